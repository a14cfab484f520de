"""The FastAGI wire's pieces as pure code: lines, the environment, replies, quoted commands.

agi.protocol.Connection puts them together; each piece is tested byte by byte here, with no
socket anywhere. Standard library only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from agi.errors import ProtocolError

MAX_LINE = 8192  # bytes in one environment or reply line (Asterisk's own buffer is 2 KiB)
MAX_ENV_LINES = 256  # agi_* lines before the blank line (Asterisk sends about 25 + args)
MAX_USAGE_LINES = 256  # lines in one 520 usage block
MAX_COMMAND = 2047  # Asterisk reads a command into a 2 KiB buffer


class ReplyCode(enum.IntEnum):
    TRYING = 100
    SUCCESS = 200
    INVALID = 510
    DEAD_CHANNEL = 511
    USAGE = 520


@dataclass(frozen=True, eq=False)
class AgiEnvironment:
    """The ``agi_*`` header block Asterisk sends first, read-only."""

    values: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def script(self) -> str:
        """Route key: "tmp-password" from agi://host:port/tmp-password?x=1."""
        raw = self.get("agi_network_script")
        if not raw:
            request = self.get("agi_request")
            raw = request.split("://", 1)[1].partition("/")[2] if "://" in request else ""
        return raw.split("?", 1)[0].strip("/")

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def extension(self) -> str:
        return self.get("agi_extension")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")


class LineSplitter:
    """Bytes → text lines, with a cap so a peer without newlines cannot grow memory."""

    def __init__(self, max_line: int) -> None:
        self._buf = bytearray()
        self._max = max_line

    def push(self, data: bytes) -> None:
        self._buf += data

    def pop(self) -> str | None:
        """The next complete line (without its line end), or None until more arrives."""
        nl = self._buf.find(b"\n")
        if nl < 0:
            if len(self._buf) > self._max:
                raise ProtocolError("line too long")
            return None
        if nl > self._max:
            raise ProtocolError("line too long")
        raw = bytes(self._buf[:nl])
        del self._buf[: nl + 1]
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def take_rest(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


_ENV_LINE = re.compile(r"(agi_[A-Za-z0-9_]+):\s?(.*)")


class EnvironmentReader:
    """Reads the header block; HANGUP lines inside it only set ``hangup_seen``."""

    def __init__(self, *, max_line: int = MAX_LINE, max_lines: int = MAX_ENV_LINES) -> None:
        self._lines = LineSplitter(max_line)
        self._max_lines = max_lines
        self._values: dict[str, str] = {}
        self._count = 0
        self.env: AgiEnvironment | None = None
        self.hangup_seen = False
        self.leftover = b""  # bytes after the blank line: the start of the reply stream

    def feed(self, data: bytes) -> AgiEnvironment | None:
        """Returns the environment once its blank line has arrived, else None."""
        if self.env is not None:
            self.leftover += data
            return self.env
        self._lines.push(data)
        while (line := self._lines.pop()) is not None:
            if line == "":
                self.env = AgiEnvironment(MappingProxyType(dict(self._values)))
                self.leftover = self._lines.take_rest()
                return self.env
            if line == "HANGUP":
                self.hangup_seen = True
                continue
            self._count += 1
            if self._count > self._max_lines:
                raise ProtocolError("environment too long")
            match = _ENV_LINE.fullmatch(line)
            if match is None:
                raise ProtocolError("not an agi_* environment line")
            self._values[match.group(1)] = match.group(2)
        return None


@dataclass(frozen=True)
class Reply:
    """One command's answer. data is the "(...)" part; usage carries 510/511/520 text."""

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    timed_out: bool = False
    usage: str = ""

    @property
    def number(self) -> int | None:
        """result as an int (a key's character code, a status), None when empty."""
        try:
            return int(self.result)
        except ValueError:
            return None


@dataclass(frozen=True)
class HangupNotice:
    """An unsolicited ``HANGUP`` line: the channel is gone. Never a reply."""


ReplyEvent = Reply | HangupNotice

_CODE_LINE = re.compile(r"(\d{3})([ -])(.*)")
_RESULT = re.compile(r"result=(\S*)\s*(.*)")
_ENDPOS = re.compile(r"(.*?)\s*endpos=(-?\d+)")


def parse_result(code: ReplyCode, text: str) -> Reply:
    """``result=X (data) endpos=N`` → Reply; the data may itself hold spaces and parens."""
    match = _RESULT.fullmatch(text)
    if match is None:
        raise ProtocolError("200 reply without result=")
    result, rest = match.groups()
    endpos = None
    if (end := _ENDPOS.fullmatch(rest)) is not None:
        rest, endpos = end.group(1), int(end.group(2))
    data = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest or None
    return Reply(code, result, data, endpos, timed_out=data == "timeout")


class ReplyReader:
    """Bytes → replies and hang-up notices; skips ``100``, reads ``520-`` blocks whole."""

    def __init__(self, *, max_line: int = MAX_LINE, max_usage_lines: int = MAX_USAGE_LINES):
        self._lines = LineSplitter(max_line)
        self._max_usage = max_usage_lines
        self._usage: list[str] | None = None  # inside a 520- block

    def feed(self, data: bytes) -> list[ReplyEvent]:
        events: list[ReplyEvent] = []
        self._lines.push(data)
        while (line := self._lines.pop()) is not None:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ReplyEvent | None:
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = "\n".join(self._usage), None
                return Reply(ReplyCode.USAGE, usage=usage)
            if len(self._usage) >= self._max_usage:
                raise ProtocolError("520 usage block too long")
            self._usage.append(line)
            return None
        if line == "HANGUP":
            return HangupNotice()
        match = _CODE_LINE.fullmatch(line)
        if match is None:
            raise ProtocolError("not an AGI reply line")
        number, sep, text = int(match.group(1)), match.group(2), match.group(3)
        if number not in ReplyCode.__members__.values():
            raise ProtocolError("unknown AGI reply code")
        code = ReplyCode(number)
        if code == ReplyCode.USAGE and sep == "-":
            self._usage = [text]
            return None
        if sep == "-":
            raise ProtocolError("continuation line outside a 520 block")
        if code == ReplyCode.TRYING:
            return None
        if code == ReplyCode.SUCCESS:
            return parse_result(code, text)
        return Reply(code, usage=text)


_VERB = re.compile(r"[A-Z]+( [A-Z]+)*")
_FORBIDDEN = ("\n", "\r", "\0")


def quote(arg: str | int) -> str:
    """One argument, always in double quotes; ``"`` and ``\\`` escaped."""
    text = str(arg)
    if any(ch in text for ch in _FORBIDDEN):
        # The message never carries the value: arguments can be keyed digits.
        raise ValueError("AGI argument contains a newline, carriage return or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(verb: str, *args: str | int) -> bytes:
    """``format_command("STREAM FILE", "x", "")`` → ``b'STREAM FILE "x" ""\\n'``.

    The verb (upper-case words) is sent bare; every argument is quoted, so an argument can
    never split into two or start another command.
    """
    if not _VERB.fullmatch(verb):
        raise ValueError("AGI verb must be upper-case words")
    line = " ".join([verb, *(quote(a) for a in args)]).encode()
    if len(line) > MAX_COMMAND:
        raise ValueError("AGI command line too long")
    return line + b"\n"


KNOWN_VERBS = frozenset(
    {
        "ANSWER", "CHANNEL STATUS", "CONTROL STREAM FILE", "DATABASE DEL", "DATABASE DELTREE",
        "DATABASE GET", "DATABASE PUT", "EXEC", "GET DATA", "GET FULL VARIABLE", "GET OPTION",
        "GET VARIABLE", "GOSUB", "HANGUP", "NOOP", "RECEIVE CHAR", "RECEIVE TEXT",
        "RECORD FILE", "SAY ALPHA", "SAY DATE", "SAY DATETIME", "SAY DIGITS", "SAY NUMBER",
        "SAY PHONETIC", "SAY TIME", "SEND IMAGE", "SEND TEXT", "SET AUTOHANGUP",
        "SET CALLERID", "SET CONTEXT", "SET EXTENSION", "SET MUSIC", "SET PRIORITY",
        "SET VARIABLE", "STREAM FILE", "TDD MODE", "VERBOSE", "WAIT FOR DIGIT",
    }
)  # fmt: skip


def command_verb(line: str) -> str:
    """The command name of a command line, without its arguments (safe to log)."""
    words = line.split()
    for n in (3, 2, 1):
        verb = " ".join(words[:n]).upper()
        if len(words) >= n and verb in KNOWN_VERBS:
            return verb
    return words[0].upper() if words else ""
