"""How calls end other than by setting a password: rejections, hang-ups, errors, deadline."""

from __future__ import annotations

import asyncio

import pytest

from ivr.flow.outcomes import Outcome, Step
from ivr.flow.ports import CallerHangup, Digits, Sound
from ivr.flow.timing import Timing
from sounds.catalog import Prompt
from store.types import StoreUnavailable
from tests.ivr.conftest import (
    ADDITIONAL,
    CONTRACT,
    INACTIVE_CALLER,
    PW,
    SUBSCRIBERS,
    Dial,
)
from tests.ivr.fakes import FakeDirectory, FakeLimiter, FakeStore, key, pound


def played(call) -> list:  # type: ignore[no-untyped-def]
    return call.channel.played


# --- caller check --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "anonymous", "Anonymous", "unavailable", "<unknown>"])
async def test_withheld_caller(dial: Dial, raw: str | None) -> None:
    call = await dial(caller=raw)
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.REJECTED_ANONYMOUS, Step.CALLER_CHECK, 0)
    assert played(call) == [(Sound(Prompt.WITHHELD),)]
    assert (call.channel.refused, call.channel.answered, call.channel.hangups) == ([433], False, 0)
    assert r.answered is False
    assert call.limiter.admitted == []


async def test_plus81_caller_is_recognised(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW), caller="+81-6-6480-6001")
    assert call.result.outcome is Outcome.SET
    assert call.result.caller == ADDITIONAL
    assert call.store.calls[0].set_by == ADDITIONAL


@pytest.mark.parametrize("caller", ["0120000000", INACTIVE_CALLER, "+14155550100"])
async def test_not_subscribed_or_inactive(dial: Dial, caller: str) -> None:
    call = await dial(caller=caller)
    r = call.result
    assert (r.outcome, r.step) == (Outcome.REJECTED_NOT_SUBSCRIBED, Step.CALLER_CHECK)
    assert played(call) == [(Sound(Prompt.NOT_SUBSCRIBED),)]
    assert (call.channel.refused, call.channel.answered, call.channel.hangups) == ([403], False, 0)


async def test_rate_limited(dial: Dial) -> None:
    call = await dial(limiter=FakeLimiter(allow=False))
    assert (call.result.outcome, call.result.step) == (
        Outcome.REJECTED_RATE_LIMITED,
        Step.CALLER_CHECK,
    )
    assert played(call) == [(Sound(Prompt.LIMITED),)]
    assert call.limiter.admitted == [CONTRACT]


async def test_limiter_store_down_is_a_store_error(dial: Dial) -> None:
    call = await dial(limiter=FakeLimiter(fail=True))
    assert (call.result.outcome, call.result.step) == (Outcome.ERROR_STORE, Step.CALLER_CHECK)
    assert played(call) == [(Sound(Prompt.SORRY),)]


async def test_directory_failure_is_an_internal_error(dial: Dial) -> None:
    directory = FakeDirectory(*SUBSCRIBERS, fail=RuntimeError("db gone"))
    call = await dial(directory=directory)
    assert (call.result.outcome, call.result.step) == (Outcome.ERROR_INTERNAL, Step.CALLER_CHECK)
    assert played(call) == [(Sound(Prompt.SORRY),)]
    assert (call.channel.refused, call.channel.hangups) == ([503], 0)  # never answered


# --- hang-ups --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "step", "strikes"),
    [
        ((CallerHangup(),), Step.MENU, 0),
        ((key("5"), CallerHangup()), Step.MENU, 1),
        ((key("2"), CallerHangup()), Step.TARGET, 0),
        ((key("1"), CallerHangup()), Step.PASSWORD, 0),
        ((key("1"), key(PW), CallerHangup()), Step.PASSWORD, 0),  # at the confirmation
    ],
)
async def test_hangup_at_each_step(dial: Dial, script: tuple, step: Step, strikes: int) -> None:
    call = await dial(*script)
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.ABANDONED, step, strikes)
    assert call.store.calls == []
    assert not any(entry[0].startswith("store") for entry in call.log)
    assert call.channel.hangups == 0 and played(call) == []


async def test_hangup_during_the_goodbye_keeps_the_outcome(dial: Dial) -> None:
    call = await dial(key("1"), key(PW), key(PW), hangup_on_play=True)
    assert (call.result.outcome, call.result.step) == (Outcome.SET, Step.DONE)
    assert call.channel.hangups == 0


async def test_hangup_during_start_again_still_records_the_failure(dial: Dial) -> None:
    call = await dial(key("0"), key("0"), key("0"), hangup_on_play=True)
    assert call.result.outcome is Outcome.FAILED_STRIKES
    assert call.limiter.failures == [CONTRACT]


# --- commit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [StoreUnavailable("down"), RuntimeError("bug"), TimeoutError()])
async def test_store_failure(dial: Dial, error: Exception) -> None:
    call = await dial(key("1"), key(PW), key(PW), store=FakeStore(fail=error))
    r = call.result
    assert (r.outcome, r.step) == (Outcome.ERROR_STORE, Step.COMMIT)
    assert played(call) == [(Sound(Prompt.SORRY),)]
    assert not any(Sound(Prompt.DONE) in p for p in played(call))
    assert call.channel.hangups == 1


async def test_done_only_after_the_store_returned(dial: Dial) -> None:
    gate = asyncio.Event()
    store = FakeStore(gate=gate)
    task = asyncio.create_task(dial(key("1"), key(PW), key(PW), store=store))
    for _ in range(20):
        await asyncio.sleep(0)
    assert store.log[-1] == ("store.begin", CONTRACT)
    assert not any(entry[0] == "play" for entry in store.log)
    gate.set()
    call = await task
    kinds = [entry[0] for entry in call.log]
    assert kinds.index("store.done") < kinds.index("play")
    assert played(call) == [(Digits(CONTRACT), Sound(Prompt.DONE))]


# --- maximum call duration -------------------------------------------------------------------


async def test_max_call_duration(dial: Dial) -> None:
    timing = Timing(first_key_s=0.01, inter_key_s=0.01, tries=3, max_call_s=0.05)
    call = await dial(key("2"), pound("0312345678"), asyncio.Event(), timing=timing)
    r = call.result
    assert (r.outcome, r.step, r.strikes) == (Outcome.TIMEOUT_CALL, Step.TARGET, 1)
    assert played(call) == [(Sound(Prompt.CALL_TOO_LONG),)]
    assert call.channel.hangups == 1
    assert call.store.calls == []


async def test_max_call_duration_during_the_store_write(dial: Dial) -> None:
    timing = Timing(first_key_s=0.01, inter_key_s=0.01, tries=3, max_call_s=0.05)
    store = FakeStore(gate=asyncio.Event())  # never acknowledges
    call = await dial(key("1"), key(PW), key(PW), store=store, timing=timing)
    assert (call.result.outcome, call.result.step) == (Outcome.TIMEOUT_CALL, Step.COMMIT)
    assert played(call) == [(Sound(Prompt.CALL_TOO_LONG),)]
