"""`ivrctl calls live` against a real stack: a SIPp call is listed with its step while it is
in progress and gone once it ended."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from loadgen.rtp_pcap import keys_at
from loadgen.sipp import CallSpec, run_call

pytestmark = pytest.mark.e2e

CALLER = "0660000001"
SUBSCRIBERS = f"contract_number,number\n{CALLER},{CALLER}\n"
PW = "73019285"


def live(stack) -> dict:
    out = stack.ivrctl("calls", "live", "--json", timeout=30)
    return json.loads(out.stdout)


def wait_live(stack, predicate, timeout_s: float) -> dict:
    """Look with `ivrctl calls live --json` until predicate(calls of CALLER) holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        doc = live(stack)
        mine = [c for c in doc["calls"] if c["caller"] == CALLER]
        if predicate(mine):
            return doc
        if time.monotonic() > deadline:
            raise AssertionError(f"calls live: still {doc} after {timeout_s}s")
        time.sleep(0.2)  # a new look; each look is a fresh AMI login


async def call_and_look(stack, workdir):
    # Unit 1, then the password once: the caller then stays at the confirmation until it
    # hangs up at 12 s (the first-key timer is longer: no strike meanwhile).
    spec = CallSpec(
        did="0664806430",
        caller_from=CALLER,
        schedule=keys_at(1.0, "1", 0.3) + keys_at(2.5, PW, 0.3),
        hangup_after_s=12.0,
        expect_service_bye=False,
        timeout_s=40,
    )
    call = asyncio.create_task(run_call(spec, "127.0.0.1", stack.sip_port, workdir))
    during = await asyncio.to_thread(
        wait_live, stack, lambda mine: [c["step"] for c in mine] == ["password"], 20
    )
    assert not call.done(), "the call ended before it was seen"
    return await call, during


@pytest.fixture(scope="module")
def looked(stack, tmp_path_factory):
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    return asyncio.run(call_and_look(stack, tmp_path_factory.mktemp("sipp")))


def test_call_listed_with_its_step_while_in_progress(stack, looked):
    result, during = looked
    assert result.ok, result.describe()
    (mine,) = [c for c in during["calls"] if c["caller"] == CALLER]
    assert mine["did"] == "0664806430"
    assert mine["channel"].startswith("PJSIP/trunk-")
    assert 0 <= mine["age_s"] <= 15
    assert set(mine) == {"channel", "call_id", "caller", "did", "step", "age_s"}


def test_call_gone_from_the_list_once_ended(stack, looked):
    ended = wait_live(stack, lambda mine: mine == [], 10)
    assert [c for c in ended["calls"] if c["caller"] == CALLER] == []
    end = stack.wait_for_line(lambda e: e.end is not None and e.end.caller == CALLER).end
    assert end is not None and (end.outcome, end.step) == ("abandoned", "password")


def test_table_for_people(stack, looked):
    out = stack.ivrctl("calls", "live").stdout
    assert "in progress" in out.splitlines()[0]
