"""Every transition of TABLE is taken by a call scripted for it (a new row needs a scenario)."""

from __future__ import annotations

from typing import Any

import pytest

import ivr.flow.call as flow
from ivr.flow.outcomes import Outcome
from ivr.flow.ports import CallerHangup
from ivr.flow.table import TABLE, E, S
from store.types import StoreUnavailable, Subscriber
from tests.ivr.conftest import ADDITIONAL, CONTRACT, FOREIGN, PW, PW2, Dial
from tests.ivr.fakes import FakeDirectory, FakeLimiter, FakeStore, key, pound, timer

WRONG3 = (key("0"), key("0"), key("0"))
ORPHAN, NO_LINE = "0664806777", "0664806999"  # an additional number of a contract without line
ENDS = (key(PW), key(PW))
FAILED = Outcome.FAILED_STRIKES
STORE_DOWN = {"limiter": FakeLimiter(fail=True)}


class Full:
    """A capacity guard that admits nothing."""

    def admit(self) -> bool:
        return False


# (state, event) -> (dial script, dial options, expected outcome)
SCENARIOS: dict[tuple[S, E], tuple[tuple[Any, ...], dict[str, Any], Outcome]] = {
    (S.CALLER_CHECK, E.OVER_CAPACITY): ((), {"capacity": Full()}, Outcome.REJECTED_CAPACITY),
    (S.CALLER_CHECK, E.WITHHELD): ((), {"caller": "anonymous"}, Outcome.REJECTED_ANONYMOUS),
    (S.CALLER_CHECK, E.NOT_SUBSCRIBED): ((), {"caller": "0111"}, Outcome.REJECTED_NOT_SUBSCRIBED),
    (S.CALLER_CHECK, E.LIMITED): (
        (),
        {"limiter": FakeLimiter(allow=False)},
        Outcome.REJECTED_RATE_LIMITED,
    ),
    (S.CALLER_CHECK, E.STORE_FAILED): (
        (),
        {"limiter": FakeLimiter(fail=True)},
        Outcome.ERROR_STORE,
    ),
    (S.CALLER_CHECK, E.ADMITTED): ((CallerHangup(),), {}, Outcome.ABANDONED),
    (S.MENU, E.TARGET_FIXED): ((key("1"), *ENDS), {}, Outcome.SET),
    (S.MENU, E.NOT_SUBSCRIBED): (  # unit 1, but the contract has no active contract line
        (key("1"),),
        {"caller": ORPHAN, "directory": FakeDirectory(Subscriber(ORPHAN, NO_LINE, "west", True))},
        Outcome.REJECTED_NOT_SUBSCRIBED,
    ),
    (S.MENU, E.TARGET_KEYED): ((key("2"), pound(ADDITIONAL), *ENDS), {}, Outcome.SET),
    (S.MENU, E.STRIKE): ((key("0"), key("1"), *ENDS), {}, Outcome.SET),
    (S.MENU, E.LAST_STRIKE): (WRONG3, {}, FAILED),
    (S.TARGET, E.ACCEPTED): ((key("3"), pound(ADDITIONAL), *ENDS), {}, Outcome.SET),
    (S.TARGET, E.STRIKE): ((key("2"), pound(FOREIGN), pound(CONTRACT), *ENDS), {}, Outcome.SET),
    (S.TARGET, E.LAST_STRIKE): (
        (key("2"), timer(), pound(""), timer("*")),
        {},
        Outcome.FAILED_STRIKES,
    ),
    (S.PASSWORD, E.ACCEPTED): ((key("1"), *ENDS), {}, Outcome.SET),
    (S.PASSWORD, E.STRIKE): ((key("1"), pound("1"), *ENDS), {}, Outcome.SET),
    (S.PASSWORD, E.LAST_STRIKE): (
        (key("1"), timer(), timer(), timer()),
        {},
        Outcome.FAILED_STRIKES,
    ),
    (S.CONFIRM, E.ACCEPTED): ((key("1"), *ENDS), {}, Outcome.SET),
    (S.CONFIRM, E.STRIKE): ((key("1"), key(PW), key(PW2), *ENDS), {}, Outcome.SET),
    (S.CONFIRM, E.LAST_STRIKE): (
        (key("1"), timer(), timer(), key(PW), key(PW2)),
        {},
        Outcome.FAILED_STRIKES,
    ),
    (S.COMMIT, E.STORED): ((key("1"), *ENDS), {}, Outcome.SET),
    (S.COMMIT, E.STORE_FAILED): (
        (key("1"), *ENDS),
        {"store": FakeStore(fail=StoreUnavailable("down"))},
        Outcome.ERROR_STORE,
    ),
}


class Recording(dict):  # type: ignore[type-arg]
    def __init__(self, table: dict[Any, Any]) -> None:
        super().__init__(table)
        self.taken: list[tuple[S, E]] = []

    def __getitem__(self, key: Any) -> Any:
        self.taken.append(key)
        return super().__getitem__(key)


def test_every_transition_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(TABLE)


@pytest.mark.parametrize("transition", list(TABLE), ids=lambda t: f"{t[0]}-{t[1]}")
async def test_transition(
    transition: tuple[S, E], dial: Dial, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = Recording(TABLE)
    monkeypatch.setattr(flow, "TABLE", recording)
    script, options, outcome = SCENARIOS[transition]
    call = await dial(*script, **options)
    assert transition in recording.taken
    assert call.result.outcome is outcome
    assert not call.channel.script, "the scenario scripted more than the call used"


def test_table_targets_are_states_and_every_state_is_reachable() -> None:
    reached = {S.CALLER_CHECK} | {target for target, _ in TABLE.values()}
    assert reached == set(S)
    assert {state for state, _ in TABLE} == set(S) - {S.END}
