"""The call flow through its steps: units, targets, passwords, strikes (call-flow.md)."""

from __future__ import annotations

from ivr.flow.outcomes import Outcome, Step
from ivr.flow.ports import Digits, Keyed, PromptItem, Sound
from ivr.flow.timing import Timing
from sounds.catalog import Prompt
from store.types import Unit
from tests.ivr.conftest import (
    ADDITIONAL,
    ADDITIONAL_2,
    CONTRACT,
    FOREIGN,
    INACTIVE_IN_A,
    PW,
    PW2,
    Call,
    Dial,
)
from tests.ivr.fakes import SetCall, key, pound, timer

MENU_P = (Sound(Prompt.UNIT_MENU),)
TARGET_P = (Sound(Prompt.ASK_TARGET),)
CONFIRM_P = (Sound(Prompt.ASK_CONFIRM),)
INVALID = Sound(Prompt.INVALID)


def pw_p(target: str) -> tuple[PromptItem, ...]:
    return (Digits(target), Sound(Prompt.PASSWORD_INTRO), Sound(Prompt.ASK_PASSWORD))


def done_p(target: str) -> tuple[PromptItem, ...]:
    return (Digits(target), Sound(Prompt.DONE))


def again(prompts: tuple[PromptItem, ...]) -> tuple[PromptItem, ...]:
    return (INVALID, *prompts)


def collected(call: Call) -> list[tuple[PromptItem, ...]]:
    return [c.prompts for c in call.channel.collects]


def assert_set(call: Call, target: str, unit: Unit, *, caller: str) -> None:
    r = call.result
    assert (r.outcome, r.step, r.strikes, r.unit, r.target) == (
        Outcome.SET,
        Step.DONE,
        0,
        unit,
        target,
    )
    contract = CONTRACT if target != FOREIGN else FOREIGN
    assert call.store.calls == [SetCall(target, PW, unit, contract, caller, "call-1")]
    assert call.channel.played == [done_p(target)]
    assert call.channel.hangups == 1
    assert call.log[-1] == ("hangup",)


# --- units and targets ---------------------------------------------------------------------


async def test_unit1_from_contract_number(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW), caller=CONTRACT)
    assert_set(call, CONTRACT, Unit.LINE, caller=CONTRACT)
    assert collected(call) == [MENU_P, pw_p(CONTRACT), CONFIRM_P]


async def test_unit1_from_additional_number_targets_the_contract(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW), caller=ADDITIONAL)
    assert_set(call, CONTRACT, Unit.LINE, caller=ADDITIONAL)


async def test_unit2_number_of_the_same_contract(dial: Dial) -> None:
    call = await dial(key("2"), pound(ADDITIONAL_2), key(PW), key(PW), caller=ADDITIONAL)
    assert_set(call, ADDITIONAL_2, Unit.NUMBER, caller=ADDITIONAL)
    assert collected(call) == [MENU_P, TARGET_P, pw_p(ADDITIONAL_2), CONFIRM_P]
    # Operators see each step once as the call enters it (confirmation is the password step).
    assert call.channel.steps == ["caller_check", "menu", "target", "password", "commit"]


async def test_steps_announced_stay_at_a_step_through_its_strikes(dial: Dial) -> None:
    call = await dial(key("4"), key("0"), key("*"))
    assert call.result.outcome is Outcome.FAILED_STRIKES
    assert call.channel.steps == ["caller_check", "menu"]


async def test_unit2_target_ended_by_the_inter_key_timer(dial: Dial) -> None:
    call = await dial(key("2"), timer(ADDITIONAL), key(PW), key(PW), caller=CONTRACT)
    assert_set(call, ADDITIONAL, Unit.NUMBER, caller=CONTRACT)


async def test_unit2_foreign_number_refused_then_correct(dial: Dial) -> None:
    call = await dial(
        key("2"), pound(FOREIGN), pound(INACTIVE_IN_A), pound(ADDITIONAL), key(PW), key(PW)
    )
    assert_set(call, ADDITIONAL, Unit.NUMBER, caller=CONTRACT)
    assert collected(call) == [
        MENU_P,
        TARGET_P,
        again(TARGET_P),
        again(TARGET_P),
        pw_p(ADDITIONAL),
        CONFIRM_P,
    ]


async def test_unit2_target_strikes_end_the_call(dial: Dial) -> None:
    call = await dial(key("2"), pound(FOREIGN), pound("066480600"), pound("0664806001*"))
    r = call.result
    assert (r.outcome, r.step, r.strikes, r.target) == (
        Outcome.FAILED_STRIKES,
        Step.TARGET,
        3,
        None,
    )
    assert call.channel.played == [(Sound(Prompt.START_AGAIN),)]
    assert call.store.calls == []


async def test_unit3_from_contract_number_keys_a_target(dial: Dial) -> None:
    call = await dial(key("3"), pound(ADDITIONAL), key(PW), key(PW), caller=CONTRACT)
    assert_set(call, ADDITIONAL, Unit.ADMIN_USER, caller=CONTRACT)
    assert collected(call) == [MENU_P, TARGET_P, pw_p(ADDITIONAL), CONFIRM_P]


async def test_unit3_from_additional_number_targets_itself(dial: Dial) -> None:
    call = await dial(key("3"), key(PW), key(PW), caller=ADDITIONAL)
    assert_set(call, ADDITIONAL, Unit.ADMIN_USER, caller=ADDITIONAL)
    assert collected(call) == [MENU_P, pw_p(ADDITIONAL), CONFIRM_P]


# --- menu strikes --------------------------------------------------------------------------


async def test_three_wrong_menu_keys(dial: Dial) -> None:
    call = await dial(key("4"), key("9"), key("0"))
    r = call.result
    assert (r.outcome, r.step, r.strikes, r.unit) == (Outcome.FAILED_STRIKES, Step.MENU, 3, None)
    assert collected(call) == [MENU_P, again(MENU_P), again(MENU_P)]
    assert call.channel.played == [(Sound(Prompt.START_AGAIN),)]
    assert call.channel.hangups == 1
    assert call.limiter.failures == [CONTRACT]


async def test_pound_star_zero_and_no_input_at_the_menu_are_strikes(dial: Dial) -> None:
    for wrong in (pound(""), key("*"), key("0"), timer(), Keyed("")):
        call = await dial(wrong, key("1"), key(PW), key(PW))
        assert call.result.outcome is Outcome.SET
        assert collected(call)[:2] == [MENU_P, again(MENU_P)]


async def test_strikes_reset_after_a_passed_step(dial: Dial) -> None:
    call = await dial(
        key("7"),
        key("8"),
        key("2"),  # menu passed with 2 strikes
        pound(FOREIGN),
        pound(FOREIGN),
        pound(ADDITIONAL),  # target passed with 2 strikes
        pound("1234"),
        key(PW),
        key(PW2),  # password: 2 strikes (bad length, mismatch)
        timer(),  # the third: no input
    )
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.FAILED_STRIKES, Step.PASSWORD, 3)
    assert call.limiter.failures == [CONTRACT]


# --- password and confirmation -------------------------------------------------------------


async def test_three_bad_passwords(dial: Dial) -> None:
    call = await dial(key("1"), timer("1234567"), key("1234*678"), pound("123"))
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.FAILED_STRIKES, Step.PASSWORD, 3)
    assert collected(call) == [
        MENU_P,
        pw_p(CONTRACT),
        again(pw_p(CONTRACT)),
        again(pw_p(CONTRACT)),
    ]
    assert call.store.calls == []
    assert call.channel.played == [(Sound(Prompt.START_AGAIN),)]


async def test_mismatch_goes_back_to_the_first_entry(dial: Dial) -> None:
    call = await dial(key("1"), key(PW2), key(PW), key(PW), key(PW))
    assert_set(call, CONTRACT, Unit.LINE, caller=CONTRACT)
    assert collected(call) == [MENU_P, pw_p(CONTRACT), CONFIRM_P, again(pw_p(CONTRACT)), CONFIRM_P]


async def test_invalid_confirmation_goes_back_to_the_first_entry(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), pound("48"), key(PW), key(PW))
    assert_set(call, CONTRACT, Unit.LINE, caller=CONTRACT)
    assert collected(call)[3] == again(pw_p(CONTRACT))


async def test_three_mismatches_fail(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW2), key(PW), key(PW2), key(PW), key(PW2))
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.FAILED_STRIKES, Step.PASSWORD, 3)
    assert call.store.calls == []
    assert call.limiter.failures == [CONTRACT]


async def test_keys_after_the_eighth_are_flushed_before_the_next_prompt(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW))
    kinds = [entry[0] for entry in call.log]
    # menu ended at its one key, each password entry at its 8th: flush before the next prompt
    assert kinds == [
        "answer",
        "collect",
        "flush",
        "collect",
        "flush",
        "collect",
        "store.prepare",
        "store.begin",
        "store.done",
        "play",
        "hangup",
    ]


async def test_wrong_entry_leftovers_are_flushed_before_the_retry(dial: Dial) -> None:
    call = await dial(key("2"), pound(FOREIGN), pound(ADDITIONAL), key(PW), key(PW))
    kinds = [entry[0] for entry in call.log[:6]]
    assert kinds == ["answer", "collect", "flush", "collect", "flush", "collect"]


async def test_entries_use_the_timing_passed_in(dial: Dial) -> None:
    timing = Timing(first_key_s=4.5, inter_key_s=1.5, tries=2, max_call_s=5)
    call = await dial(key("2"), pound(ADDITIONAL), key(PW), key(PW), timing=timing)
    limits = [(c.max_digits, c.first_key_s, c.inter_key_s) for c in call.channel.collects]
    assert limits == [(1, 4.5, 1.5), (16, 4.5, 1.5), (8, 4.5, 1.5), (8, 4.5, 1.5)]
    two_tries = await dial(key("0"), key("0"), timing=timing)
    assert (two_tries.result.outcome, two_tries.result.strikes) == (Outcome.FAILED_STRIKES, 2)


async def test_password_is_not_kept_in_the_result(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW))
    assert PW not in repr(call.result)
