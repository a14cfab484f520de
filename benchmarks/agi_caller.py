"""A simulated Asterisk for the FastAGI benchmark: one FastAGI connection per call.

Each command is answered by its shape, the way Asterisk answers it for a caller who dials in
correctly (menu key 1, then the same 8-digit password twice): a ``Read()`` gets the caller's
next entry whatever its prompt files, ``GET VARIABLE`` what the channel holds, playbacks run
to their end (no barge-in). So the client follows the server's adaptor as it changes, not a
fixed script. Times are taken when bytes arrive (``data_received``), not when a coroutine
resumes, so this process's own scheduling adds as little as possible to the turnaround.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import deque
from dataclasses import dataclass, field

from agi.wire import command_verb

DID = "0664806430"
# Commands whose reply waits for the caller (a prompt played, keys typed) in a real call.
_PLAYBACK = frozenset({"STREAM FILE", "SAY DIGITS", "CONTROL STREAM FILE", "GET DATA"})
# Never the store's work:
_INSTANT = frozenset({"GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE"})
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"


@dataclass(frozen=True)
class Caller:
    """One subscriber's call; password is kept in memory only (never printed)."""

    number: str
    password: str = field(repr=False)
    uniqueid: str


@dataclass
class CallRecord:
    """What the client saw of one call. Turnaround: reply sent → next command received."""

    ramp: list[float] = field(default_factory=list)  # before the call's first Read was held
    run: list[float] = field(default_factory=list)  # after it, the KDF step excepted
    kinds: list[str] = field(default_factory=list)  # the command that ended each of run
    kdf: float | None = None  # confirm entry → the goodbye's first command (KDF + store)
    first_command: float | None = None  # environment sent → first command
    held: bool = False
    hung_up: bool = False  # the server ended the call with HANGUP (a completed dial-in)
    call_end_ok: bool = False  # the call-end script closed without sending a command


class Gate:
    """Holds every call at its first Read until all are waiting, then lets them go in turn."""

    def __init__(self, calls: int, rate: float) -> None:
        self.calls, self.rate = calls, rate
        self.waiting = 0
        self.ended = 0
        self.settled = asyncio.Event()  # every call waits at its first Read, or has ended
        self._go = asyncio.Event()

    def _check(self) -> None:
        if self.waiting + self.ended >= self.calls:
            self.settled.set()

    def ended_early(self) -> None:
        self.ended += 1
        self._check()

    async def hold(self) -> None:
        turn = self.waiting
        self.waiting += 1
        self._check()
        await self._go.wait()
        await asyncio.sleep(turn / self.rate if self.rate > 0 else 0)

    def release(self) -> None:
        self._go.set()


class _Link(asyncio.Protocol):
    """Lines in, each stamped with its arrival time; bytes out."""

    def __init__(self) -> None:
        self.lines: deque[tuple[float, str]] = deque()
        self._buf = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self._buf += data
        while (nl := self._buf.find(b"\n")) >= 0:
            self.lines.append((now, self._buf[:nl].decode("utf-8", "replace")))
            del self._buf[: nl + 1]
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_line(self) -> tuple[float, str] | None:
        while not self.lines:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self.lines.popleft()

    def send(self, data: bytes) -> float:
        assert self.transport is not None
        sent = time.perf_counter()
        self.transport.write(data)
        return sent


def parse(line: str) -> tuple[str, list[str]]:
    """``EXEC "Read" "K,f1&f2,8"`` → ("EXEC", ["Read", "K,f1&f2,8"]); the server quotes all."""
    verb = command_verb(line)
    args = [re.sub(r"\\(.)", r"\1", a) for a in _ARG.findall(line[len(verb) :])]
    return verb, args


class Channel:
    """The channel's side of the dial-in: variables, and the caller's entries in order."""

    def __init__(self, caller: Caller, think_s: float, rng: random.Random) -> None:
        self.vars: dict[str, str] = {}
        self.entries = deque(["1", caller.password, caller.password])
        self._think, self._rng = think_s, rng

    def _paced(self) -> float:
        return self._think * self._rng.uniform(0.5, 1.5)

    def answer(self, verb: str, args: list[str]) -> tuple[bytes, float]:
        """The reply line and how long Asterisk takes to send it (caller-paced commands)."""
        if verb == "SET VARIABLE" and len(args) == 2:
            self.vars[args[0]] = args[1]
            return b"200 result=1\n", 0.0
        if verb == "GET VARIABLE" and args:
            value = self.vars.get(args[0])
            found = f"200 result=1 ({value})\n" if value is not None else "200 result=0\n"
            return found.encode(), 0.0
        if verb == "GET FULL VARIABLE" and args:  # ${NAME} substituted, "" when unset
            value = re.sub(r"\$\{(\w+)\}", lambda m: self.vars.get(m.group(1), ""), args[0])
            return f"200 result=1 ({value})\n".encode(), 0.0
        if verb == "EXEC" and args and args[0].lower() == "read":
            return self._read(args[1] if len(args) > 1 else ""), self._paced()
        if verb == "GOSUB" and args[:1] == ["ivr-entry"] and len(args) > 3:
            return self._entry(args[3]), self._paced()
        if verb in _PLAYBACK:
            return b"200 result=0 endpos=16000\n", self._paced()
        if verb == "WAIT FOR DIGIT":  # no key pending: Asterisk waits the whole timeout
            wait_ms = int(args[0]) if args and args[0].lstrip("-").isdigit() else 0
            return b"200 result=0\n", max(0, wait_ms) / 1000
        if verb in ("ANSWER", "EXEC"):
            return b"200 result=0\n", 0.0
        if verb == "CHANNEL STATUS":
            return b"200 result=6\n", 0.0
        if verb == "HANGUP":
            return b"200 result=1\n", 0.0
        return b"510 Invalid or unknown command\n", 0.0

    def _entry(self, arg: str) -> bytes:
        """The dialplan's ivr-entry (step, files, max digits, timers, flush), then its Read."""
        step, files, limit = (arg.split(",") + ["", "", ""])[:3]
        if step:
            self.vars["IVR_STEP"] = step
        self._read(f"IVRKEYS,{files},{limit}")
        return b"200 result=0 Gosub complete\n"

    def _read(self, options: str) -> bytes:
        """Read(var,files,maxdigits,...): the next entry, cut at maxdigits (no key: TIMEOUT)."""
        parts = options.split(",")
        name = parts[0]
        limit = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
        entry = self.entries.popleft() if self.entries else ""
        digits = entry[:limit] if limit else entry
        full = bool(entry) and (not limit or len(entry) >= limit)
        self.vars[name] = digits
        self.vars["READSTATUS"] = "OK" if full else "TIMEOUT"
        return b"200 result=0\n"


def _kind(verb: str, args: list[str]) -> str:
    """A command's shape without its values: "SET VARIABLE IVR_STEP", "EXEC Read"."""
    named = verb in ("SET VARIABLE", "GET VARIABLE", "EXEC", "GOSUB") and args
    return f"{verb} {args[0]}" if named else verb


def environment(caller: Caller, port: int, script: str, args: list[str]) -> bytes:
    """What res_agi sends for agi://127.0.0.1:port/script,args (Asterisk 22's order)."""
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:{port}/{script}",
        f"agi_channel: PJSIP/sipp-{caller.uniqueid.replace('.', '')[-8:]}",
        "agi_language: ja",
        "agi_type: PJSIP",
        f"agi_uniqueid: {caller.uniqueid}",
        "agi_version: 22.0.0",
        f"agi_callerid: {caller.number}",
        "agi_calleridname: unknown",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        f"agi_dnid: {DID}",
        "agi_rdnis: unknown",
        "agi_context: tmp-password",
        f"agi_extension: {DID}",
        "agi_priority: 7",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 140245175555776",
        *(f"agi_arg_{i}: {arg}" for i, arg in enumerate(args, start=1)),
    ]
    return ("\n".join(lines) + "\n\n").encode()


async def _connect(port: int) -> _Link:
    loop = asyncio.get_running_loop()
    _transport, link = await loop.create_connection(_Link, "127.0.0.1", port)
    return link


async def run_call(
    caller: Caller, port: int, secret: str, gate: Gate, think_s: float, rng: random.Random
) -> CallRecord:
    """The dial-in, then the hangup handler's call-end script, as Asterisk runs them."""
    rec, channel = CallRecord(), Channel(caller, think_s, rng)
    started = time.perf_counter()
    link = await _connect(port)
    last = link.send(environment(caller, port, "tmp-password", [secret]))
    commit = False  # after the confirm entry: the next command not GET/SET follows the KDF
    while (got := await link.next_line()) is not None:
        at, line = got
        verb, args = parse(line)
        gap = at - last
        if rec.first_command is None:
            rec.first_command = gap
        elif commit and verb not in _INSTANT:
            rec.kdf, commit = gap, False
        elif rec.held:
            rec.run.append(gap)
            rec.kinds.append(_kind(verb, args))
        else:
            rec.ramp.append(gap)
        reply, delay = channel.answer(verb, args)
        is_read = (verb == "EXEC" and bool(args) and args[0].lower() == "read") or (
            verb == "GOSUB" and args[:1] == ["ivr-entry"]
        )
        if is_read and not rec.held:
            rec.held = True
            await gate.hold()
        elif delay:
            await asyncio.sleep(delay)
        commit = commit or (is_read and not channel.entries)
        last = link.send(reply)
        if verb == "HANGUP":
            rec.hung_up = True
            link.send(b"HANGUP\n")
    if link.transport is not None:
        link.transport.close()
    if not rec.held:
        gate.ended_early()
    ms = int((time.perf_counter() - started) * 1000)
    rec.call_end_ok = await _call_end(caller, port, [secret, "SUCCESS", str(ms), DID])
    return rec


async def _call_end(caller: Caller, port: int, args: list[str]) -> bool:
    """The dialplan's hangup handler: AGI(agi://.../call-end,SECRET,AGISTATUS,ms,DID)."""
    link = await _connect(port)
    link.send(environment(caller, port, "call-end", args))
    commands = 0
    while await link.next_line() is not None:
        commands += 1
        link.send(_DEAD)  # the channel is gone by now
    if link.transport is not None:
        link.transport.close()
    return commands == 0
