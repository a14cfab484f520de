"""The call log: JSON Lines on stdout and appended to calls.jsonl (interfaces.md).

Operators tail it and tools parse it, so every line is one JSON object with an ISO 8601
timestamp with offset, and each call ends with exactly one `call.end` line. No line may
hold a password or keyed digits: the flow never passes them, and `redact_secrets` replaces
any field named like one as a second guard.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from ivr.flow.outcomes import CallInfo, CallResult

LOGGER_NAME = "ivr.calls"
REDACTED = "[redacted]"
# Field names that could carry secrets or keys: substrings, and whole words for short ones.
_SECRET_PARTS = ("password", "passwd", "secret", "digit", "dtmf", "verifier", "pepper")
_SECRET_WORDS = frozenset({"pw", "pin", "key", "keys", "keyed"})
_WORD = re.compile(r"[a-z0-9]+")


def _is_secret_name(name: str) -> bool:
    low = name.lower()
    return any(part in low for part in _SECRET_PARTS) or bool(
        _SECRET_WORDS.intersection(_WORD.findall(low))
    )


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_name(str(k)) else _redact(v) for k, v in value.items()}
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace every field named like a password, PIN, digits or keys (nested dicts too)."""
    for name in list(event_dict):
        if name != "event" and _is_secret_name(name):
            event_dict[name] = REDACTED
        else:
            event_dict[name] = _redact(event_dict[name])
    return event_dict


def add_timestamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Local time with its offset, so lines from machines in any zone sort and compare."""
    event_dict["timestamp"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return event_dict


class JsonLinesSink:
    """Writes each rendered line to stdout and appends it to the calls file.

    One os.write per line on an O_APPEND descriptor: lines from several processes never
    interleave. stdout is looked up per line so test capture and redirection work.
    """

    def __init__(self, path: Path, *, stdout: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._stdout = stdout

    def write(self, message: str) -> None:
        line = message if message.endswith("\n") else message + "\n"
        if self._fd is not None:
            os.write(self._fd, line.encode("utf-8"))
        if self._stdout:
            sys.stdout.write(line)

    def flush(self) -> None:
        if self._stdout:
            sys.stdout.flush()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def configure_logging(calls_log: Path, *, stdout: bool = True) -> JsonLinesSink:
    """Route structlog to JSON Lines on stdout and calls_log; returns the sink to close."""
    sink = JsonLinesSink(calls_log, stdout=stdout)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_timestamp,
            redact_secrets,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=sink),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return sink


def _dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, **kw)


def _logger() -> Any:
    return structlog.get_logger(LOGGER_NAME)


@dataclass(frozen=True)
class CallEnd:
    """A `call.end` line: exactly the fields of interfaces.md, in their order."""

    call_id: str
    caller: str | None
    did: str
    unit: str | None
    target: str | None
    outcome: str
    step: str
    strikes: int
    duration_ms: int

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
        )


CALL_END_FIELDS = tuple(f.name for f in fields(CallEnd))


def log_call_end(call: CallInfo, result: CallResult, duration_ms: int) -> None:
    """The one `call.end` line of a call."""
    _logger().info("call.end", **asdict(CallEnd.of(call, result, duration_ms)))


def log_call_start(call: CallInfo, caller: str | None) -> None:
    """A call reached the flow (caller as normalised, or raw when withheld)."""
    _logger().info("call.start", call_id=call.call_id, caller=caller, did=call.did)


def log_strike(call: CallInfo, *, step: str, reason: str, strikes: int) -> None:
    """A wrong entry: where and why, never what was keyed."""
    _logger().info("call.strike", call_id=call.call_id, step=step, reason=reason, strikes=strikes)


def log_call_event(event: str, call: CallInfo, *, level: str = "info", **fields: Any) -> None:
    """Any other operator event of a call (e.g. call.error with an exception type name)."""
    getattr(_logger(), level)(event, call_id=call.call_id, **fields)
