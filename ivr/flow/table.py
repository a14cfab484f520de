"""The call flow as one transition table, read top to bottom like docs/call-flow.md.

Each state's handler (ivr.flow.call) does its one piece of I/O and names what happened as an
Event; TABLE says where that leads and what to do on the way. Three exits are not in the
table because they can happen anywhere: the caller hanging up (abandoned, nothing sent), the
maximum call duration (timeout_call) and an unexpected error (error_internal).
docs/call-flow.md draws TABLE; a test keeps them equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ivr.flow.outcomes import Outcome, Step
from sounds.catalog import Prompt


class State(enum.StrEnum):
    CALLER_CHECK = "caller_check"
    MENU = "menu"
    TARGET = "target"
    PASSWORD = "password"  # first password entry
    CONFIRM = "confirm"  # same step as PASSWORD for strikes and the call log
    COMMIT = "commit"
    END = "end"


class Event(enum.StrEnum):
    OVER_CAPACITY = "over_capacity"  # the service cannot take one more call on time
    WITHHELD = "withheld"
    NOT_SUBSCRIBED = "not_subscribed"
    LIMITED = "limited"
    ADMITTED = "admitted"
    TARGET_FIXED = "target_fixed"  # unit 1; unit 3 from an additional number
    TARGET_KEYED = "target_keyed"  # unit 2; unit 3 from the contract number
    ACCEPTED = "accepted"
    STRIKE = "strike"
    LAST_STRIKE = "last_strike"  # the tries-th strike at this step
    STORED = "stored"
    STORE_FAILED = "store_failed"


class Do(enum.StrEnum):
    """What a transition does besides changing state."""

    ANSWER = "answer"  # admitted: the call is answered (billing starts here), step passed
    ADVANCE = "advance"  # the step is passed: its strikes start again at 0
    CONTINUE = "continue"  # same step, next entry (password → confirmation): strikes carry on
    RETRY = "retry"  # a strike: stale keys discarded, INVALID played before the step prompt


@dataclass(frozen=True)
class End:
    """The outcome is decided; play the goodbye (target read back first if say_target).

    sip_status: a refusal before the answer: the prompt is early media, then this final
    SIP response instead of a 200 OK (the caller pays nothing).
    """

    outcome: Outcome
    prompt: Prompt
    say_target: bool = False
    step: Step | None = None  # where the call log says it ended; None: the current step
    sip_status: int | None = None

    @property
    def label(self) -> str:
        refused = f", SIP {self.sip_status}" if self.sip_status else ""
        return f"{self.outcome} ({self.prompt.name}{refused})"


Action = Do | End
S, E = State, Event
ANSWER, ADVANCE, CONTINUE, RETRY = Do.ANSWER, Do.ADVANCE, Do.CONTINUE, Do.RETRY
# Refusals at the caller check, before any answer (RFC 5079's 433 for anonymity).
REFUSE_CAPACITY = End(Outcome.REJECTED_CAPACITY, Prompt.SORRY, sip_status=503)
REFUSE_WITHHELD = End(Outcome.REJECTED_ANONYMOUS, Prompt.WITHHELD, sip_status=433)
REFUSE_NOT_SUBSCRIBED = End(Outcome.REJECTED_NOT_SUBSCRIBED, Prompt.NOT_SUBSCRIBED, sip_status=403)
REFUSE_LIMITED = End(Outcome.REJECTED_RATE_LIMITED, Prompt.LIMITED, sip_status=486)
REFUSE_STORE_DOWN = End(Outcome.ERROR_STORE, Prompt.SORRY, sip_status=503)
# Ends after the answer.
REJECT_NOT_SUBSCRIBED = End(Outcome.REJECTED_NOT_SUBSCRIBED, Prompt.NOT_SUBSCRIBED)
STORE_ERROR = End(Outcome.ERROR_STORE, Prompt.SORRY)
FAIL = End(Outcome.FAILED_STRIKES, Prompt.START_AGAIN)
SET = End(Outcome.SET, Prompt.DONE, say_target=True, step=Step.DONE)

TABLE: dict[tuple[State, Event], tuple[State, Action]] = {
    # 1. Caller check, on the unanswered call: capacity, caller present, subscribed, active,
    #    within the per-caller limits. Only an admitted caller is answered.
    (S.CALLER_CHECK, E.OVER_CAPACITY): (S.END, REFUSE_CAPACITY),
    (S.CALLER_CHECK, E.WITHHELD): (S.END, REFUSE_WITHHELD),
    (S.CALLER_CHECK, E.NOT_SUBSCRIBED): (S.END, REFUSE_NOT_SUBSCRIBED),
    (S.CALLER_CHECK, E.LIMITED): (S.END, REFUSE_LIMITED),
    (S.CALLER_CHECK, E.STORE_FAILED): (S.END, REFUSE_STORE_DOWN),  # the limiter's store is down
    (S.CALLER_CHECK, E.ADMITTED): (S.MENU, ANSWER),
    # 2. Unit menu: one key, 1-3.
    (S.MENU, E.TARGET_FIXED): (S.PASSWORD, ADVANCE),
    (S.MENU, E.NOT_SUBSCRIBED): (S.END, REJECT_NOT_SUBSCRIBED),  # unit 1: no active contract line
    (S.MENU, E.TARGET_KEYED): (S.TARGET, ADVANCE),
    (S.MENU, E.STRIKE): (S.MENU, RETRY),
    (S.MENU, E.LAST_STRIKE): (S.END, FAIL),
    # 3. Target number: an active number of the caller's own contract, then `#`.
    (S.TARGET, E.ACCEPTED): (S.PASSWORD, ADVANCE),
    (S.TARGET, E.STRIKE): (S.TARGET, RETRY),
    (S.TARGET, E.LAST_STRIKE): (S.END, FAIL),
    # 4-5. Password and confirmation: one step; any wrong entry goes back to the first.
    (S.PASSWORD, E.ACCEPTED): (S.CONFIRM, CONTINUE),
    (S.PASSWORD, E.STRIKE): (S.PASSWORD, RETRY),
    (S.PASSWORD, E.LAST_STRIKE): (S.END, FAIL),
    (S.CONFIRM, E.ACCEPTED): (S.COMMIT, ADVANCE),
    (S.CONFIRM, E.STRIKE): (S.PASSWORD, RETRY),
    (S.CONFIRM, E.LAST_STRIKE): (S.END, FAIL),
    # 6. Commit: "done" only after the store acknowledged the write.
    (S.COMMIT, E.STORED): (S.END, SET),
    (S.COMMIT, E.STORE_FAILED): (S.END, STORE_ERROR),
}

STEP_OF: dict[State, Step] = {
    S.CALLER_CHECK: Step.CALLER_CHECK,
    S.MENU: Step.MENU,
    S.TARGET: Step.TARGET,
    S.PASSWORD: Step.PASSWORD,
    S.CONFIRM: Step.PASSWORD,
    S.COMMIT: Step.COMMIT,
}
