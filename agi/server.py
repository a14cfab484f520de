"""A thin asyncio FastAGI server: one task per call, a timeout on every read.

Routing is an explicit registry built at start-up. The protocol's rules live in
agi.protocol.Connection; this module moves bytes, bounds waits, guards the door (allow-list,
secret, cap: each refusal logged and handed to `on_refused`, which the service counts) and
turns failures into something visible (a structlog event, a variable the dialplan tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog

from agi.errors import AGIError, AGITimeout, CommandFailed, HangupError, ProtocolError
from agi.protocol import Connection, Event, State
from agi.wire import AgiEnvironment, Reply

log = structlog.get_logger(__name__)

Handler = Callable[["AgiCall"], Awaitable[None]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK = ("127.0.0.0/8", "::1/128")
# The shared secret is the AGI's first argument, AGI(agi://host:port/script,SECRET,...): only
# our dialplan knows it. Not in the URL: Asterisk logs the URL when it cannot connect.
SECRET_ARG = "agi_arg_1"
_READ_SIZE = 4096
_CLEANUP_TIMEOUT_S = 5.0  # bound on the best-effort commands sent after a failure
_FAILURE = b"FAILURE\n"  # res_agi: AGISTATUS=FAILURE, as for a server it cannot reach


class Registry:
    """{script name: handler}, fixed at start-up; a second handler for a name is refused."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        for script, handler in (handlers or {}).items():
            self.register(script, handler)

    def register(self, script: str, handler: Handler) -> None:
        name = script.strip("/")
        if not name:
            raise ValueError("script name must not be empty")
        if name in self._handlers:
            raise ValueError(f"AGI script {name!r} is already registered")
        self._handlers[name] = handler

    def get(self, script: str) -> Handler | None:
        return self._handlers.get(script)

    @property
    def scripts(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))


class AgiCall:
    """One AGI session: the environment and a command method, one command at a time.

    agi.protocol.Connection holds the rules; this class moves bytes and bounds each wait.
    Replies are read only while a command waits for one, so the call stays one task.
    """

    def __init__(
        self,
        conn: Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout_s: float,
    ) -> None:
        assert conn.env is not None, "a call starts once the environment has arrived"
        self.env: AgiEnvironment = conn.env
        self._conn = conn
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout_s
        self._lock = asyncio.Lock()

    @property
    def gone(self) -> bool:
        """True once Asterisk said the channel hung up (HANGUP line, 511, EOF, ...)."""
        return self._conn.hangup_seen

    async def command(self, verb: str, *args: str | int) -> Reply:
        """Send one command and return its reply; hang-ups, refusals and failures raise.

        ``result=-1`` on a channel not known to be gone is told apart by asking its status:
        a hang-up raises HangupError, a live channel CommandFailed.
        """
        try:
            return await self._exchange(verb, *args)
        except CommandFailed:
            try:
                await self._exchange("CHANNEL STATUS")
            except CommandFailed:
                self._conn.channel_gone()
                raise HangupError("no channel any more") from None
            raise

    async def _exchange(self, verb: str, *args: str | int) -> Reply:
        async with self._lock:
            self._writer.write(self._conn.send_command(verb, *args))
            try:
                reply = await asyncio.wait_for(self._send_and_read(), self._timeout)
            except asyncio.CancelledError:
                self._conn.abandon_command()  # its reply will still come: skipped then
                raise
            except TimeoutError:
                self._conn.lose(AGITimeout)
                raise AGITimeout(f"no reply to {verb} within {self._timeout}s") from None
        return self._conn.judge(reply)

    async def _send_and_read(self) -> Reply:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self._conn.receive_data(b"")
            raise HangupError("connection lost while sending") from exc
        while True:
            for event in await _read_events(self._conn, self._reader):
                if isinstance(event, Reply):
                    return event
            if self._conn.state is State.GONE:
                raise HangupError("connection closed by Asterisk")


class AgiServer:
    """Accepts FastAGI connections and runs the registered handler for each call."""

    def __init__(
        self,
        registry: Registry,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        env_timeout_s: float = 5.0,
        command_timeout_s: float = 120.0,
        max_call_s: float = 360.0,
        failure_variable: tuple[str, str] | None = None,
        allow: Sequence[str] = LOOPBACK,
        secret: str | None = None,
        max_calls: int = 0,
        uncapped: Sequence[str] = (),
        busy_variable: tuple[str, str] | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.env_timeout_s = env_timeout_s
        self.command_timeout_s = command_timeout_s
        self.max_call_s = max_call_s
        self.failure_variable = failure_variable  # (name, value) set when a handler fails
        self.allow = tuple(ipaddress.ip_network(net, strict=False) for net in allow)
        self._secret = secret  # compared in constant time with SECRET_ARG
        self.max_calls = max_calls  # 0: no cap
        self.uncapped = frozenset(n.strip("/") for n in uncapped)  # served beyond the cap too
        self.busy_variable = busy_variable  # (name, value) set on a call refused at the cap
        self._on_refused = on_refused  # with the reason: "address", "secret" or "capacity"
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("agi.listening", host=self.host, port=self.port, scripts=self.registry.scripts)
        return self.port

    async def close(self, drain_s: float = 0.0) -> int:
        """Stop accepting (a new call gets "connection refused": the dialplan tries the next
        server); with drain_s (SIGTERM) the calls in progress may finish for that long. Then
        cancel what is left and wait for it; returns how many calls that was."""
        if self._server is not None:
            self._server.close()  # the listening socket only: live calls go on
        if drain_s > 0 and self._tasks:
            log.info("agi.draining", calls=len(self._tasks), timeout_s=drain_s)
            await asyncio.wait(list(self._tasks), timeout=drain_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        return len(tasks)

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def active_calls(self) -> int:
        return len(self._tasks)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            address = _peer(writer)
            if not any(address in net for net in self.allow if address is not None):
                self._refuse(address, "address")  # a stranger: not a byte read or sent
            else:
                await self._serve(reader, writer, address)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _refuse(self, address: object, reason: str, **where: str) -> None:
        log.warning("agi.refused", address=str(address), reason=reason, **where)
        if self._on_refused is not None:
            self._on_refused(reason)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: IPAddress
    ) -> None:
        over_cap = 0 < self.max_calls < len(self._tasks)  # counted at the connection's start
        conn = Connection()
        try:
            await asyncio.wait_for(_read_environment(conn, reader), self.env_timeout_s)
        except TimeoutError:
            log.warning("agi.env_timeout", timeout_s=self.env_timeout_s)
            return
        except ProtocolError as exc:
            if conn.env is None:
                log.warning("agi.env_invalid", reason=str(exc))
                return  # garbage after the environment fails the call's first command
        except HangupError:
            log.info("agi.env_truncated")
            return
        if self._secret is not None and not _same(conn.env.get(SECRET_ARG), self._secret):
            self._refuse(address, "secret")
            return  # no command: whoever this is learns nothing and drives nothing
        call = AgiCall(conn, reader, writer, command_timeout_s=self.command_timeout_s)
        if over_cap and call.env.script not in self.uncapped:
            self._refuse(address, "capacity", uniqueid=call.env.uniqueid)
            # Marked busy, then AGISTATUS=FAILURE: the dialplan tries its next server (none
            # left: the apology and a refusal before answer). close() flushes the line.
            if self.busy_variable is not None:
                await _best_effort(call.command("SET VARIABLE", *self.busy_variable))
            writer.write(b"" if call.gone else _FAILURE)
            return
        handler = self.registry.get(call.env.script)
        if handler is None:
            log.warning("agi.unknown_script", script=call.env.script, uniqueid=call.env.uniqueid)
            await _best_effort(call.command("HANGUP"))
            return
        await self._run(handler, call)

    async def _tell_dialplan(self, call: AgiCall) -> None:
        """Let the dialplan play its apology instead of the call ending in silence."""
        if call.gone or self.failure_variable is None:
            return
        await _best_effort(call.command("SET VARIABLE", *self.failure_variable))

    async def _run(self, handler: Handler, call: AgiCall) -> None:
        where = {"script": call.env.script, "uniqueid": call.env.uniqueid}
        try:
            async with asyncio.timeout(self.max_call_s) as deadline:
                await handler(call)
        except HangupError:
            log.info("agi.caller_gone", **where)
        except AGITimeout:
            log.warning("agi.command_timeout", timeout_s=self.command_timeout_s, **where)
        except TimeoutError as exc:
            if not deadline.expired():
                _log_handler_error(exc, where)
            else:
                log.warning("agi.call_deadline", max_call_s=self.max_call_s, **where)
            await self._tell_dialplan(call)
        except Exception as exc:
            _log_handler_error(exc, where)
            await self._tell_dialplan(call)


def _peer(writer: asyncio.StreamWriter) -> IPAddress | None:
    peer = writer.get_extra_info("peername")
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _same(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode(), secret.encode())


async def _read_events(conn: Connection, reader: asyncio.StreamReader) -> list[Event]:
    """One read's events; a reset connection is EOF, never a spin."""
    try:
        data = await reader.read(_READ_SIZE)
    except (ConnectionError, OSError):
        data = b""
    return conn.receive_data(data)


async def _read_environment(conn: Connection, reader: asyncio.StreamReader) -> None:
    """Reads to the blank line; EOF before it is a hang-up."""
    while conn.env is None:
        await _read_events(conn, reader)
        if conn.state is State.GONE and conn.env is None:
            raise HangupError("connection closed before the environment ended")


def _log_handler_error(exc: BaseException, where: dict[str, str]) -> None:
    """Type and stack frames only: messages and locals may hold keyed digits."""
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in tb]
    log.error("agi.handler_error", error=type(exc).__name__, frames=frames, **where)


async def _best_effort(command: Awaitable[Reply]) -> None:
    try:
        await asyncio.wait_for(command, _CLEANUP_TIMEOUT_S)
    except (AGIError, TimeoutError):
        pass
