"""The call log: what a call logs, with which fields (docs/interfaces.md), and its one reader.

Operators tail it and tools parse it: each call ends with exactly one `call.end` line. No
line may hold a password or keyed digits: the flow never passes them (and the sink, in
ivr.service.logsink, redacts any field named like one as a second guard).
Each event's fields are a dataclass below, used by the writer and by the reader alike, so a
field name is spelled once: tools, benchmarks and tests read the log through `parse_line`,
`read_lines` or `CallLogReader` and get typed records, never dicts keyed by strings.
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar, get_type_hints

import structlog

from ivr.flow.outcomes import CallInfo, CallResult
from ivr.flow.ports import Digits, PromptItem

LOGGER_NAME = "ivr.calls"
CALL_START, CALL_STRIKE = "call.start", "call.strike"
CALL_PROMPT, CALL_END = "call.prompt", "call.end"
# A number read back is logged as this, never as its digits. The flow reads back only the
# target, which call.end carries.
READBACK = "(target)"


def _logger() -> Any:
    return structlog.get_logger(LOGGER_NAME)


class Played(enum.StrEnum):
    """Why prompts were played (call.prompt's `kind`)."""

    ENTRY = "entry"  # before an entry, barge-in allowed: the caller keys next
    GOODBYE = "goodbye"  # the final message of an answered call, then BYE
    REFUSAL = "refusal"  # early media of a call never answered, then the final SIP status


_DEFAULTS: dict[Any, Any] = {str: "", int: 0, bool: False, str | None: None, tuple[str, ...]: ()}


def _value(hint: Any, rec: Mapping[str, Any], name: str) -> Any:
    """A field as logged, checked against its type; missing fields take their default (the
    floor benchmark's dialplan, for one, writes only caller and outcome)."""
    if name not in rec:
        return _DEFAULTS[hint]
    value = rec[name]
    if hint == str | None:
        ok = value is None or isinstance(value, str)
    elif hint == tuple[str, ...]:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
    if not ok:
        raise ValueError(f"{name}: {type(value).__name__} where {hint} was written")
    return value


class _Fields:
    """The reading half of an event's dataclass."""

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Self:
        """The event from a parsed line (ValueError when a field has the wrong type)."""
        hints = _hints(cls)
        return cls(**{f.name: _value(hints[f.name], rec, f.name) for f in fields(cls)})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


@dataclass(frozen=True)
class CallStart(_Fields):
    """A call reached the flow (caller as normalised, or raw when withheld)."""

    call_id: str
    caller: str | None
    did: str


@dataclass(frozen=True)
class CallStrike(_Fields):
    """A wrong entry: where and why, never what was keyed."""

    call_id: str
    step: str
    reason: str
    strikes: int


@dataclass(frozen=True)
class CallPrompt(_Fields):
    """Prompts the flow played, by catalog id (READBACK for the target read back)."""

    call_id: str
    step: str
    kind: str  # a Played
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class CallEnd(_Fields):
    """A `call.end` line: exactly the fields of docs/interfaces.md, in their order."""

    call_id: str
    caller: str | None
    did: str
    unit: str | None
    target: str | None
    outcome: str
    step: str
    strikes: int
    duration_ms: int
    answered: bool

    @classmethod
    def of(cls, call: CallInfo, result: CallResult, duration_ms: int) -> CallEnd:
        return cls(
            call_id=call.call_id,
            caller=result.caller,
            did=call.did,
            unit=str(result.unit) if result.unit is not None else None,
            target=result.target,
            outcome=str(result.outcome),
            step=str(result.step),
            strikes=result.strikes,
            duration_ms=int(duration_ms),
            answered=result.answered,
        )


CallRecord = CallStart | CallStrike | CallPrompt | CallEnd
EVENTS: dict[str, type[CallRecord]] = {
    CALL_START: CallStart,
    CALL_STRIKE: CallStrike,
    CALL_PROMPT: CallPrompt,
    CALL_END: CallEnd,
}
_EVENT_OF = {cls: event for event, cls in EVENTS.items()}
CALL_END_FIELDS = tuple(f.name for f in fields(CallEnd))


# --- writing ------------------------------------------------------------------------------


def _log(record: CallRecord) -> None:
    _logger().info(_EVENT_OF[type(record)], **vars(record))  # shallow: plain values only


def log_call_end(call: CallInfo, result: CallResult, duration_ms: int) -> None:
    """The one `call.end` line of a call."""
    _log(CallEnd.of(call, result, duration_ms))


def log_call_start(call: CallInfo, caller: str | None) -> None:
    _log(CallStart(call.call_id, caller, call.did))


def log_strike(call: CallInfo, *, step: str, reason: str, strikes: int) -> None:
    _log(CallStrike(call.call_id, str(step), str(reason), strikes))


def log_prompts(
    call: CallInfo,
    step: str,
    prompts: Sequence[PromptItem],
    *,
    entry: bool = False,
    answered: bool = True,
) -> Sequence[PromptItem]:
    """What the caller is about to hear (`ivrctl call` shows it as heard), never a digit:
    before an entry, or the goodbye (the refusal when never answered). Returns prompts, so
    the flow logs them where it plays them; logs nothing for no prompt."""
    if prompts:
        kind = Played.ENTRY if entry else Played.GOODBYE if answered else Played.REFUSAL
        ids = tuple(READBACK if isinstance(p, Digits) else p.id for p in prompts)
        _log(CallPrompt(call.call_id, str(step), str(kind), ids))
    return prompts


def log_call_event(event: str, call: CallInfo, *, level: str = "info", **fields: Any) -> None:
    """Any other operator event of a call (e.g. call.error with an exception type name)."""
    getattr(_logger(), level)(event, call_id=call.call_id, **fields)


# --- reading ------------------------------------------------------------------------------

_R = TypeVar("_R")


@dataclass(frozen=True)
class LogLine:
    """One line of the call log: its event, the line as parsed and as written, and the typed
    record of a call event (None for other events, e.g. call.error)."""

    event: str
    data: Mapping[str, Any]
    raw: bytes
    record: CallRecord | None = None

    @property
    def call_id(self) -> str | None:
        value = self.data.get("call_id")
        return value if isinstance(value, str) else None

    @property
    def level(self) -> str | None:
        value = self.data.get("level")
        return value if isinstance(value, str) else None

    @property
    def timestamp(self) -> datetime | None:
        """When it was written; None when missing or without an offset."""
        try:
            when = datetime.fromisoformat(str(self.data.get("timestamp")))
        except ValueError:
            return None
        return when if when.tzinfo else None

    start = property(lambda self: _of(self, CallStart), doc="The call.start record, or None.")
    strike = property(lambda self: _of(self, CallStrike), doc="The call.strike record, or None.")
    prompt = property(lambda self: _of(self, CallPrompt), doc="The call.prompt record, or None.")
    end = property(lambda self: _of(self, CallEnd), doc="The call.end record, or None.")


def _of(line: LogLine, kind: type[_R]) -> _R | None:
    return line.record if isinstance(line.record, kind) else None


def parse_line(raw: bytes | str) -> LogLine | None:
    """One line of the log; None for garbage (not JSON, not an event, a field's wrong type)."""
    raw = raw.encode() if isinstance(raw, str) else raw
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(event := data.get("event"), str):
        return None
    kind = EVENTS.get(event)
    try:
        record = kind.from_record(data) if kind is not None else None
    except ValueError:
        return None
    return LogLine(event, data, raw.rstrip(b"\r\n"), record)


def read_lines(path: Path, offset: int = 0) -> tuple[list[LogLine], int]:
    """The lines written after byte `offset`, and the offset to read on from.

    Garbage is skipped; a cut last line (still being written) is left for the next read. A
    file now shorter than offset was replaced (rotated, truncated): read from its start.
    """
    try:
        with path.open("rb") as f:
            if f.seek(0, 2) < offset:
                offset = 0
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    whole = data.rfind(b"\n") + 1
    lines = [line for raw in data[:whole].splitlines() if (line := parse_line(raw)) is not None]
    return lines, offset + whole


class CallLogReader:
    """A call log read incrementally: each read returns only what was written since the last."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path, self.offset = Path(path), offset
        self._pending: list[LogLine] = []  # read past a match in until(): returned next

    @classmethod
    def at_end(cls, path: Path) -> CallLogReader:
        """A reader of what is written from now on."""
        path = Path(path)
        return cls(path, path.stat().st_size if path.exists() else 0)

    def read(self) -> list[LogLine]:
        lines, self.offset = read_lines(self.path, self.offset)
        out, self._pending = self._pending + lines, []
        return out

    def until(
        self, match: Callable[[LogLine], object], timeout_s: float, *, poll_s: float = 0.05
    ) -> tuple[list[LogLine], LogLine | None]:
        """Read until a line matches: (every line read, the match last; the match), or
        (every line read, None) after timeout_s. Lines after the match are read next time."""
        deadline = time.monotonic() + timeout_s
        seen: list[LogLine] = []
        while True:
            new = self.read()
            for i, line in enumerate(new):
                if match(line):
                    self._pending = new[i + 1 :]
                    return [*seen, *new[: i + 1]], line
            seen += new
            if time.monotonic() >= deadline:
                return seen, None
            time.sleep(poll_s)  # another process appends to the file
