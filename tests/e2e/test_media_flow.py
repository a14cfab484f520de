"""No dead air: while the service waits for keys, RTP keeps coming, in the call's codec.

Why: some clients, NATs and carriers' media timers take seconds without RTP for a dead
call. Measured here with a bare SIP caller whose media port is a Python socket: it keys
`1` (SIP INFO) to leave the menu, then keys nothing, so the service plays the target
read-back and the password prompts and waits IVR_FIRST_KEY_S for the first key. The call
log's `no_input` strike marks the end of that wait; every RTP packet up to then is counted.
Without `transmit_silence` the wait was 6 s with no packet at all (see docs/keys.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from ivr.flow.calllog import CallLogReader, CallStrike, LogLine
from tests.e2e.rawsip import RawCall
from tests.stackutil import Stack

pytestmark = pytest.mark.e2e

WEST = "0664806430"
CALLER = "0540000001"
FIRST_KEY_S = 6.0  # the key wait measured
PCMU = 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """This module's own stack: a longer first-key wait than the other e2e stacks."""
    s = Stack.new(
        tmp_path_factory.mktemp("stack"), IVR_FIRST_KEY_S=str(FIRST_KEY_S), IVR_INTER_KEY_S="2"
    )
    try:
        s.up()
        csv = s.state_dir / "subscribers.csv"
        csv.write_text(f"contract_number,number\n{CALLER},{CALLER}\n")
        s.ivrctl("subscribers", "import", str(csv))
        yield s
    finally:
        s.down()


async def _wait_for(stack, match: Callable[[LogLine], object], timeout_s: float) -> LogLine:
    """The first line that matches (polled, without blocking the loop that receives RTP: the
    log is a file written by another process)."""
    reader = CallLogReader(stack.calls_log)
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        found = [line for line in reader.read() if match(line)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such line within {timeout_s}s: {stack.log_lines()}")


async def _call(stack) -> tuple[RawCall, float, float, CallStrike | None]:
    async with RawCall(did=WEST, caller=CALLER, sip_port=stack.sip_port) as call:
        await asyncio.sleep(0.5)  # some menu prompt first
        await call.info("1")
        keyed_at = time.monotonic()
        strike = (await _wait_for(stack, lambda e: e.strike, timeout_s=60)).strike
        seen_at = time.monotonic()
    return call, keyed_at, seen_at, strike


def test_rtp_keeps_flowing_while_waiting_for_keys(stack):
    call, keyed_at, seen_at, strike = asyncio.run(_call(stack))
    assert strike is not None and (strike.step, strike.reason) == ("password", "no_input")
    arrivals = call.arrivals
    # The whole wait for the first key lies in the last FIRST_KEY_S seconds before the strike
    # was seen (seen at most one 50 ms poll after it was written).
    wait = arrivals.between(seen_at - FIRST_KEY_S + 0.2, seen_at - 0.2)
    expected = (FIRST_KEY_S - 0.4) * 50  # one 20 ms packet after another
    assert len(wait) >= 0.9 * expected, (len(wait), expected)
    assert {pt for _, pt in wait} == {PCMU}  # silence in the call's codec, not a keep-alive
    # And never a second of nothing from the answer on, prompts, key and wait alike.
    assert arrivals.longest_gap(call.answered_at + 0.1, seen_at - 0.2) < 1.0
    assert seen_at - keyed_at > FIRST_KEY_S


def test_the_call_ended_as_the_caller_hung_up(stack):
    end = asyncio.run(_wait_for(stack, lambda e: e.end, timeout_s=10)).end
    assert end is not None
    assert (end.caller, end.outcome, end.step) == (CALLER, "abandoned", "password")
    assert len([e for e in stack.log_lines() if e.end is not None]) == 1
