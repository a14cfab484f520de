"""Refusals before answer: a caller who is turned away pays nothing and hears why.

Bare SIP calls whose media port is a Python socket, so the test sees the 183, every RTP packet
of the refusal text and the final status, and can prove no 200 OK ever came. Each call has
its own caller number; afterwards each has exactly one `call.end` line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from ivr.deploy.procs import wait_for as wait_until
from tests.e2e.rawsip import RawCall
from tests.stackutil import Stack, alive, running

pytestmark = pytest.mark.e2e

WEST = "0664806430"
ACTIVE = ("0660000001", "0660000002", "0660000003", "0660000004", "0660000005")
INACTIVE = "0660000009"
LIMITED = "0660000006"
CAPACITY = ("0660000007", "0660000008", "0661000001")
STORE_DOWN, AGI_DOWN = "0661000002", "0661000003"
SUBSCRIBERS = (
    "contract_number,number,region,active\n"
    + "".join(f"{n},{n},west,1\n" for n in (*ACTIVE, LIMITED, *CAPACITY, STORE_DOWN, AGI_DOWN))
    + f"{INACTIVE},{INACTIVE},west,0\n"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"IVR_LIMIT_CALLS_PER_HOUR": "2", "IVR_MAX_CALLS": "2"}
    state = tmp_path_factory.mktemp("refusals")
    with running(state, SUBSCRIBERS, IVR_FIRST_KEY_S="4", IVR_INTER_KEY_S="2", **env) as s:
        yield s


def ends_of(stack, caller: str) -> list[dict]:
    lines = [json.loads(line) for line in stack.calls_log.read_text().splitlines()]
    return [e for e in lines if e.get("event") == "call.end" and e.get("caller") == caller]


async def refused(stack, caller: str, **kw) -> RawCall:
    call = RawCall(did=WEST, caller=caller, sip_port=stack.sip_port, expect_answer=False, **kw)
    async with call:
        pass
    return call


def assert_refused_with_text(call: RawCall, status: int) -> None:
    codes = [code for _t, code, _sdp in call.responses]
    assert 200 not in codes, codes
    assert call.final_status == status, codes
    progress = [t for t, code, sdp in call.responses if code == 183 and sdp]
    assert progress, f"no 183 with SDP: {codes}"
    final_at = call.responses[-1][0]
    text = call.arrivals.between(progress[0], final_at)
    assert len(text) >= 25, f"only {len(text)} RTP packets of the refusal text"  # >= 0.5 s


@pytest.mark.parametrize(
    "caller,status,outcome",
    [
        ("anonymous", 433, "rejected_anonymous"),
        ("0499999998", 403, "rejected_not_subscribed"),
        (INACTIVE, 403, "rejected_not_subscribed"),
    ],
)
def test_refused_callers_hear_why_and_are_never_answered(stack, caller, status, outcome):
    call = asyncio.run(refused(stack, caller, timeout_s=20))
    assert_refused_with_text(call, status)
    [end] = ends_of(stack, caller)
    assert (end["outcome"], end["step"], end["answered"]) == (outcome, "caller_check", False)


async def answered_then_bye(stack, caller: str, after_s: float) -> RawCall:
    async with RawCall(did=WEST, caller=caller, sip_port=stack.sip_port) as call:
        await asyncio.sleep(after_s)  # the caller's own timing: what the test is about
    return call


def test_caller_over_the_per_caller_limit_gets_486(stack):
    for _ in range(2):  # within the limit: answered, then the caller hangs up
        asyncio.run(answered_then_bye(stack, LIMITED, 0.5))
    call = asyncio.run(refused(stack, LIMITED, timeout_s=20))
    assert_refused_with_text(call, 486)
    outcomes = [e["outcome"] for e in ends_of(stack, LIMITED)]
    assert outcomes == ["abandoned", "abandoned", "rejected_rate_limited"]


async def over_capacity(stack) -> RawCall:
    first = RawCall(did=WEST, caller=CAPACITY[0], sip_port=stack.sip_port)
    second = RawCall(did=WEST, caller=CAPACITY[1], sip_port=stack.sip_port)
    async with first, second:  # two calls in the menu: IVR_MAX_CALLS=2
        return await refused(stack, CAPACITY[2], timeout_s=20)


def test_over_capacity_is_refused_with_503(stack):
    call = asyncio.run(over_capacity(stack))
    assert_refused_with_text(call, 503)
    [end] = ends_of(stack, CAPACITY[2])
    assert (end["outcome"], end["answered"]) == ("rejected_capacity", False)
    for held in CAPACITY[:2]:  # both held calls end (their flows free their places)
        stack.wait_for_line(lambda e, c=held: e.get("event") == "call.end" and e["caller"] == c)


@pytest.mark.parametrize(
    "caller,cancel_after_s,bye_after_s",
    [(ACTIVE[0], 0.0, None), (ACTIVE[2], 0.1, None), (ACTIVE[1], None, 0.2)],
    ids=["CANCEL at once", "gone 0.1 s after INVITE", "BYE 0.2 s after the answer"],
)
def test_every_call_leaves_exactly_one_call_end(stack, caller, cancel_after_s, bye_after_s):
    """However short: a CANCEL (or, once answered, a BYE) 0.1 s after the INVITE, a BYE
    0.2 s after the answer. The flow logs the call, or the hangup handler reports it."""
    if bye_after_s is None:
        asyncio.run(refused(stack, caller, cancel_after_s=cancel_after_s, timeout_s=10))
    else:
        asyncio.run(answered_then_bye(stack, caller, bye_after_s))
    stack.wait_for_line(lambda e: e.get("event") == "call.end" and e.get("caller") == caller)
    ends = ends_of(stack, caller)
    assert len(ends) == 1, ends
    assert ends[0]["outcome"] == "abandoned"


def kill(stack, name: str) -> None:
    pid = stack.pids()[name]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not alive(pid), 10), f"{name} survived SIGKILL"


def test_store_down_is_refused_with_503(stack):
    kill(stack, "redis")
    call = asyncio.run(refused(stack, STORE_DOWN, timeout_s=20))
    assert_refused_with_text(call, 503)
    [end] = ends_of(stack, STORE_DOWN)
    assert (end["outcome"], end["answered"]) == ("error_store", False)


def test_fastagi_server_unreachable_gets_apology_and_503_within_10s(stack):
    kill(stack, "agi")
    call = asyncio.run(refused(stack, AGI_DOWN, timeout_s=10))
    assert_refused_with_text(call, 503)
    took = call.responses[-1][0] - call.responses[0][0]
    assert took < 10
    stack.wait_for_line(lambda e: e.get("event") == "call.end" and e.get("caller") == AGI_DOWN)
    [end] = ends_of(stack, AGI_DOWN)  # written by Asterisk itself: the server is gone
    assert (end["outcome"], end["step"], end["answered"]) == (
        "error_internal",
        "caller_check",
        False,
    )


@pytest.fixture(scope="module")
def silent_stack(tmp_path_factory):
    s = Stack.new(tmp_path_factory.mktemp("no-early-media"), IVR_EARLY_MEDIA="0")
    try:
        s.up()
        yield s
    finally:
        s.down()


def test_without_early_media_refusals_are_still_before_answer(silent_stack):
    call = asyncio.run(refused(silent_stack, "anonymous", timeout_s=10))
    codes = [code for _t, code, _sdp in call.responses]
    assert call.final_status == 433 and 200 not in codes and 183 not in codes, codes
    assert call.arrivals.packets == []
