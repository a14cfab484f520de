"""A thin asyncio FastAGI server: one task per call, a timeout on every read.

Routing is an explicit registry built at start-up. The wire is parsed by agi.protocol;
this module only moves bytes, bounds waits, and turns failures into something visible
(a structlog event and the IVR_OUTCOME channel variable for the dialplan's apology).
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Mapping

import structlog

from agi.channel import AgiChannel
from agi.errors import AGIError, AGITimeout, CommandError, HangupError, ProtocolError
from agi.protocol import (
    AgiEnvironment,
    EnvironmentReader,
    HangupNotice,
    Reply,
    ReplyCode,
    ReplyReader,
    format_command,
)
from ivr.settings import Timing

log = structlog.get_logger(__name__)

Handler = Callable[["AgiCall"], Awaitable[None]]

OUTCOME_VARIABLE = "IVR_OUTCOME"
OUTCOME_ERROR = "error_internal"
_READ_SIZE = 4096
_CLEANUP_TIMEOUT_S = 5.0  # bound on the best-effort commands sent after a failure


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

    def __contains__(self, script: object) -> bool:
        return script in self._handlers

    @property
    def scripts(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))


class AgiCall:
    """One AGI session: the environment and a command method, one command at a time.

    Replies are read only while a command waits for one, so the call stays one task.
    """

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout_s: float,
        leftover: bytes = b"",
        hangup_seen: bool = False,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout_s
        self._replies = ReplyReader()
        self._pending: list[Reply] = []
        self._lock = asyncio.Lock()
        self._gone = hangup_seen
        self._lost: type[AGIError] | None = None  # why the stream became unusable, if it did
        self._orphans = 0  # commands sent whose waiter was cancelled: skip their replies
        self.channel = AgiChannel(self)
        try:
            self._absorb(leftover)
        except ProtocolError:
            self._lost = ProtocolError

    @property
    def gone(self) -> bool:
        """True once Asterisk said the channel hung up (HANGUP line, 511, EOF, ...)."""
        return self._gone

    async def command(self, verb: str, *args: str | int) -> Reply:
        """Send one command and return its reply; hang-ups and refusals raise."""
        line = format_command(verb, *args)
        async with self._lock:
            if self._gone:
                raise HangupError("channel already hung up")
            if self._lost is not None:
                raise self._lost("call lost after an earlier failure")
            try:
                self._writer.write(line)
                reply = await asyncio.wait_for(self._send_and_read(), self._timeout)
            except asyncio.CancelledError:
                self._orphans += 1  # its reply will still come; the next command skips it
                raise
            except TimeoutError:
                self._lost = AGITimeout
                raise AGITimeout(f"no reply to {verb} within {self._timeout}s") from None
            except ProtocolError:
                self._lost = ProtocolError
                raise
        return self._judge(reply)

    def _judge(self, reply: Reply) -> Reply:
        if reply.code == ReplyCode.DEAD_CHANNEL:
            self._gone = True
            raise HangupError("511: dead channel")
        if reply.code in (ReplyCode.INVALID, ReplyCode.USAGE):
            raise CommandError(reply.code, reply.usage)
        if reply.result == "-1" or reply.data == "hangup":
            self._gone = True
            raise HangupError("result means the channel is gone")
        return reply

    async def _send_and_read(self) -> Reply:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self._gone = True
            raise HangupError("connection lost while sending") from exc
        while True:
            reply = await self._next_reply()
            if not self._orphans:
                return reply
            self._orphans -= 1

    async def _next_reply(self) -> Reply:
        while not self._pending:
            try:
                data = await self._reader.read(_READ_SIZE)
            except (ConnectionError, OSError) as exc:
                self._gone = True
                raise HangupError("connection reset") from exc
            if not data:
                self._gone = True
                raise HangupError("connection closed by Asterisk")
            self._absorb(data)
        return self._pending.pop(0)

    def _absorb(self, data: bytes) -> None:
        for event in self._replies.feed(data):
            if isinstance(event, HangupNotice):
                self._gone = True
            else:
                self._pending.append(event)


class AgiServer:
    """Accepts FastAGI connections and runs the registered handler for each call."""

    def __init__(
        self,
        registry: Registry,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        env_timeout_s: float = 5.0,
        command_timeout_s: float = Timing.command_s,
        max_call_s: float = Timing.max_call_s + 60.0,
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.env_timeout_s = env_timeout_s
        self.command_timeout_s = command_timeout_s
        self.max_call_s = max_call_s
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("agi.listening", host=self.host, port=self.port, scripts=self.registry.scripts)
        return self.port

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop accepting, cancel the calls in progress and wait for them to end."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def active_calls(self) -> int:
        return len(self._tasks)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            envr = await asyncio.wait_for(_read_environment(reader), self.env_timeout_s)
        except TimeoutError:
            log.warning("agi.env_timeout", timeout_s=self.env_timeout_s)
            return
        except ProtocolError as exc:
            log.warning("agi.env_invalid", reason=str(exc))
            return
        except HangupError:
            log.info("agi.env_truncated")
            return
        env = envr.env
        assert env is not None
        call = AgiCall(
            env,
            reader,
            writer,
            command_timeout_s=self.command_timeout_s,
            leftover=envr.leftover,
            hangup_seen=envr.hangup_seen,
        )
        handler = self.registry.get(env.script)
        if handler is None:
            log.warning("agi.unknown_script", script=env.script, uniqueid=env.uniqueid)
            await _best_effort(call.command("HANGUP"))
            return
        await self._run(handler, call)

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
            await _tell_dialplan(call)
        except Exception as exc:
            _log_handler_error(exc, where)
            await _tell_dialplan(call)


async def _read_environment(reader: asyncio.StreamReader) -> EnvironmentReader:
    """Reads to the blank line; EOF or reset before it is a hang-up, never a spin."""
    envr = EnvironmentReader()
    while True:
        try:
            data = await reader.read(_READ_SIZE)
        except (ConnectionError, OSError) as exc:
            raise HangupError("connection reset before the environment ended") from exc
        if not data:
            raise HangupError("connection closed before the environment ended")
        if envr.feed(data) is not None:
            return envr


def _log_handler_error(exc: BaseException, where: dict[str, str]) -> None:
    """Type and stack frames only: messages and locals may hold keyed digits."""
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in tb]
    log.error("agi.handler_error", error=type(exc).__name__, frames=frames, **where)


async def _tell_dialplan(call: AgiCall) -> None:
    """Let the dialplan play its apology instead of the call ending in silence."""
    if call.gone:
        return
    await _best_effort(call.command("SET VARIABLE", OUTCOME_VARIABLE, OUTCOME_ERROR))


async def _best_effort(command: Awaitable[Reply]) -> None:
    try:
        await asyncio.wait_for(command, _CLEANUP_TIMEOUT_S)
    except (AGIError, TimeoutError):
        pass
