"""The call log's events: what a call logs and with which fields (docs/interfaces.md).

Operators tail it and tools parse it: each call ends with exactly one `call.end` line. No
line may hold a password or keyed digits: the flow never passes them (and the sink, in
ivr.service.logsink, redacts any field named like one as a second guard).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import structlog

from ivr.flow.outcomes import CallInfo, CallResult

LOGGER_NAME = "ivr.calls"


def _logger() -> Any:
    return structlog.get_logger(LOGGER_NAME)


@dataclass(frozen=True)
class CallEnd:
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
