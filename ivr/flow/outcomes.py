"""What a call is and how it ended: the closed sets of the call log (docs/interfaces.md).

Kept apart from the flow so that the call log and the AGI server can name outcomes and
steps without importing the state machine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from store.types import Unit


class Outcome(enum.StrEnum):
    """How a call ended; the closed set operators and tools rely on."""

    SET = "set"
    FAILED_STRIKES = "failed_strikes"
    ABANDONED = "abandoned"
    REJECTED_ANONYMOUS = "rejected_anonymous"
    REJECTED_NOT_SUBSCRIBED = "rejected_not_subscribed"
    REJECTED_RATE_LIMITED = "rejected_rate_limited"
    ERROR_STORE = "error_store"
    ERROR_INTERNAL = "error_internal"
    TIMEOUT_CALL = "timeout_call"
    REJECTED_CAPACITY = "rejected_capacity"  # refused before answer: the service is at capacity


class Step(enum.StrEnum):
    """Where a call was when it ended (password and its confirmation are one step)."""

    CALLER_CHECK = "caller_check"
    MENU = "menu"
    TARGET = "target"
    PASSWORD = "password"
    COMMIT = "commit"
    DONE = "done"


@dataclass(frozen=True)
class CallInfo:
    """What the channel told us about the call before the flow starts."""

    call_id: str
    caller_raw: str | None  # agi_callerid as delivered (P-Asserted-Identity user part)
    did: str  # the number dialled


@dataclass(frozen=True)
class CallResult:
    """How one call ended; never holds the password.

    caller: the normalised caller ID, or the raw one when it was withheld.
    strikes: wrong entries at `step` when the call ended.
    """

    outcome: Outcome
    step: Step
    strikes: int
    unit: Unit | None
    target: str | None
    caller: str | None
    duration_ms: int = 0
    answered: bool = False  # False: refused (or gone) before the answer, nothing was charged
