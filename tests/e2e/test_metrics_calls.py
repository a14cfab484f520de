"""Every metric of docs/operations.md's list moves with real calls through a real stack.

`ivrctl stack up` on free ports (IVR_AGI_ALLOW=127.0.0.1/32, IVR_MAX_CALLS=1); a SIPp
dial-in that sets a password after one wrong menu key, a TCP connection to the FastAGI port
from 127.0.0.2, a FastAGI client without the secret, a call over IVR_MAX_CALLS, then (the
FastAGI server alone restarted with IVR_MAX_CALLS_PER_S=1, IVR_MAX_CALLS_BURST=1) a call over
the rate. /metrics is scraped before and after each, and every series must have moved by
exactly what the calls did: `ivr_calls_total{outcome}`, `ivr_calls_in_progress`,
`ivr_strikes_total`, `ivr_rejections_total{reason}`, `ivr_agi_command_seconds`,
`ivr_store_seconds{operation}`.
IVR_AGI_MAX_CALLS's route and counter: tests/e2e/test_agi_cap.py.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from ivr.deploy import procs
from loadgen.sipp import CallSpec, run_call
from tests.e2e.rawsip import RawCall
from tests.e2e.test_calls import keys
from tests.e2e.test_refusals import assert_refused_with_text
from tests.e2e.test_security import raw_agi_attack
from tests.promutil import Samples, changes, scrape
from tests.stackutil import Stack, running

pytestmark = pytest.mark.e2e

WEST = "0664806430"
SETTER, HELD, OVER, RATE = "0680000001", "0680000002", "0680000003", ("0680000004", "0680000005")
PW = "60418273"
SUBSCRIBERS = "contract_number,number\n" + "".join(
    f"{n},{n}\n" for n in (SETTER, HELD, OVER, *RATE)
)
COUNTERS = {
    "ivr_calls_total": ("outcome",),
    "ivr_rejections_total": ("reason",),
    "ivr_strikes_total": ("step", "reason"),
    "ivr_store_seconds_count": ("operation",),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    caps = {"IVR_MAX_CALLS": "1", "IVR_MAX_CALLS_PER_S": "0"}
    state = tmp_path_factory.mktemp("metrics")
    with running(state, SUBSCRIBERS, IVR_AGI_ALLOW="127.0.0.1/32", **caps) as s:
        yield s


def metrics(stack: Stack) -> Samples:
    return scrape(int(stack.env["IVR_METRICS_PORT"]))


def moved(before: Samples, after: Samples) -> dict[str, dict[str, float]]:
    """Every counter series that moved (histograms by their _count), by its labels."""
    found = {name: changes(before, after, name, *labels) for name, labels in COUNTERS.items()}
    return {name: moves for name, moves in found.items() if moves}


def single(samples: Samples, name: str) -> float:
    return samples[(name, ())]


def ends_of(stack: Stack, caller: str) -> list[dict]:
    lines = [json.loads(line) for line in stack.calls_log.read_text().splitlines()]
    return [e for e in lines if e.get("event") == "call.end" and e.get("caller") == caller]


def ended(stack: Stack, caller: str) -> dict:
    return stack.wait_for_line(lambda e: e.get("event") == "call.end" and e["caller"] == caller)


def test_a_set_call_moves_its_outcome_strike_commands_and_each_store_operation(
    stack: Stack, tmp_path
) -> None:
    before = metrics(stack)
    schedule = keys((1.0, "4"), (1.0, "1"), (1.5, PW), (1.5, PW))  # "4": not a unit
    spec = CallSpec(did=WEST, caller_from=SETTER, schedule=schedule, timeout_s=60)
    result = asyncio.run(run_call(spec, "127.0.0.1", stack.sip_port, tmp_path))
    assert result.ok, result.describe()
    assert ended(stack, SETTER)["outcome"] == "set"
    after = metrics(stack)
    # unit 1: the caller's entry, then its contract line; one limiter script; one set
    assert moved(before, after) == {
        "ivr_calls_total": {"set": 1},
        "ivr_strikes_total": {"menu/invalid_key": 1},
        "ivr_store_seconds_count": {
            "directory_lookup": 2,
            "redis_limits": 1,
            "kdf": 1,
            "redis_set": 1,
        },
    }
    kdf_s = changes(before, after, "ivr_store_seconds_sum", "operation")["kdf"]
    assert 0.005 < kdf_s < 5  # one Argon2id derivation (19 MiB, 2 passes) takes real time
    commands = single(after, "ivr_agi_command_seconds_count")
    assert commands - single(before, "ivr_agi_command_seconds_count") >= 5
    assert single(after, "ivr_calls_in_progress") == 0
    assert stack.ivrctl("tpw", "verify", SETTER, PW).stdout.split()[0] == "ok"


def connect_from(address: str, port: int) -> bytes:
    """A TCP connection to the FastAGI port from another loopback address; what it got."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=10, source_address=(address, 0)
    ) as s:
        try:
            return s.recv(4096)
        except ConnectionResetError:
            return b""


def test_refused_connections_count_by_reason_and_are_no_call(stack: Stack) -> None:
    port = int(stack.env["IVR_AGI_PORT"])
    before = metrics(stack)
    assert connect_from("127.0.0.2", port) == b""  # outside IVR_AGI_ALLOW: closed at once
    assert asyncio.run(raw_agi_attack(port, "0123456789abcdef")) == b""  # a wrong secret
    after = metrics(stack)
    assert moved(before, after) == {
        "ivr_rejections_total": {"address_not_allowed": 1, "wrong_secret": 1}
    }
    lines = [json.loads(line) for line in stack.calls_log.read_text().splitlines()]
    refused = [(e["reason"], e["address"]) for e in lines if e["event"] == "agi.refused"]
    assert refused == [("address", "127.0.0.2"), ("secret", "127.0.0.1")]


async def over_max_calls(stack: Stack) -> tuple[RawCall, float]:
    """HELD answered and in the menu (IVR_MAX_CALLS=1), then OVER: refused before answer."""
    async with RawCall(did=WEST, caller=HELD, sip_port=stack.sip_port):
        in_progress = await asyncio.to_thread(
            lambda: single(metrics(stack), "ivr_calls_in_progress")
        )
        over = RawCall(
            did=WEST, caller=OVER, sip_port=stack.sip_port, expect_answer=False, timeout_s=20
        )
        async with over:
            pass
    return over, in_progress


def test_a_call_over_ivr_max_calls(stack: Stack) -> None:
    before = metrics(stack)
    over, in_progress = asyncio.run(over_max_calls(stack))
    assert in_progress == 1
    assert_refused_with_text(over, 503)
    assert ended(stack, HELD)["outcome"] == "abandoned"
    [end] = ends_of(stack, OVER)
    assert (end["outcome"], end["answered"]) == ("rejected_capacity", False)
    after = metrics(stack)
    assert moved(before, after) == {
        "ivr_calls_total": {"abandoned": 1, "rejected_capacity": 1},
        "ivr_rejections_total": {"capacity": 1},
        # the capacity check comes first: the refused call costs the store nothing
        "ivr_store_seconds_count": {"directory_lookup": 1, "redis_limits": 1},
    }
    assert single(after, "ivr_calls_in_progress") == 0


async def two_at_once(stack: Stack) -> list[RawCall]:
    calls = [
        RawCall(did=WEST, caller=c, sip_port=stack.sip_port, expect_answer=False, timeout_s=20)
        for c in RATE
    ]

    async def place(call: RawCall) -> None:
        async with call:  # an answered one hangs up at once
            pass

    await asyncio.gather(*(place(c) for c in calls))
    return calls


def test_a_call_over_ivr_max_calls_per_s(stack: Stack) -> None:
    """The FastAGI server alone restarted with a rate of 1 a second, its bucket holding one."""
    assert procs.stop("agi", run_dir=stack.state_dir / "run")
    rate = {"IVR_MAX_CALLS": "600", "IVR_MAX_CALLS_PER_S": "1", "IVR_MAX_CALLS_BURST": "1"}
    rated = Stack(stack.state_dir, {**stack.env, **rate})
    rated.up()
    before = metrics(rated)
    calls = asyncio.run(two_at_once(rated))
    assert sorted(c.final_status for c in calls) == [200, 503]
    [refused] = [c for c in calls if c.final_status == 503]
    assert_refused_with_text(refused, 503)
    for caller in RATE:
        ended(rated, caller)
    outcomes = sorted(e["outcome"] for c in RATE for e in ends_of(rated, c))
    assert outcomes == ["abandoned", "rejected_capacity"]
    after = metrics(rated)
    assert moved(before, after) == {
        "ivr_calls_total": {"abandoned": 1, "rejected_capacity": 1},
        "ivr_rejections_total": {"capacity": 1},
        "ivr_store_seconds_count": {"directory_lookup": 1, "redis_limits": 1},
    }
