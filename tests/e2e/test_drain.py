"""A FastAGI server killed mid-call, and one drained by SIGTERM, on the real stack.

kill -9 while the caller keys the password: the caller hears the apology before the BYE
(Asterisk logs "ivr apology played ... agi LOST step password" at NOTICE, and the call
lasts the ~7 s of tpw/sorry past the kill), and the call log says answered, the step, an
error outcome. SIGTERM while a call is in progress: /healthz says draining (503, with the
reason), the AGI port refuses new connections, the call still ends `set` with a password
that verifies, and the server exits once it is done.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

import pytest

from ivr.deploy import probes, procs
from ivr.ops.ami import list_channels
from loadgen.sipp import CallSpec, run_call
from tests.e2e.test_calls import keys
from tests.stackutil import Stack, alive, call_ended

pytestmark = pytest.mark.e2e

PW = "73920416"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack.new(
        tmp_path_factory.mktemp("drain"), IVR_FIRST_KEY_S="10", IVR_INTER_KEY_S="3",
        IVR_MAX_CALL_S="60",
    )  # fmt: skip
    csv = s.state_dir.parent / "subs.csv"
    csv.write_text("contract_number,number,region,active\n0311110001,0311110001,west,1\n"
                   "0311110002,0311110002,west,1\n")  # fmt: skip
    try:
        s.up()
        s.ivrctl("subscribers", "import", str(csv))
        yield s
    finally:
        s.down()


async def _until_step(s: Stack, step: str) -> None:
    """Waits until Asterisk shows a channel at this step (AMI, as `ivrctl calls live`)."""
    secret = (s.state_dir / "ami-secret").read_text().strip()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        channels = await list_channels("127.0.0.1", int(s.env["IVR_AMI_PORT"]), "ivr", secret)
        if any(c["vars"].get("IVR_STEP") == step for c in channels):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no call reached {step} within {WAIT_S}s")


def _agi_pid(s: Stack) -> int:
    pid = procs.running_pid("agi", run_dir=s.state_dir / "run")
    assert pid is not None
    return pid


def _end_of(s: Stack, caller: str) -> Mapping[str, Any]:
    return s.wait_for_line(call_ended(caller)).data  # the line as written (source too)


def test_killed_mid_call_apologises_and_logs_the_step(stack, tmp_path):
    s = stack
    # the menu at once, then silence: the call waits at the password prompt (10 s)
    spec = CallSpec(did="0664806430", caller_from="0311110001", schedule=keys((1.0, "1")),
                    timeout_s=40)  # fmt: skip

    async def scenario() -> tuple[object, float]:
        call = asyncio.create_task(run_call(spec, "127.0.0.1", s.sip_port, tmp_path))
        await _until_step(s, "password")
        os.kill(_agi_pid(s), signal.SIGKILL)
        killed = time.monotonic()
        result = await call
        return result, time.monotonic() - killed

    result, after_kill_s = asyncio.run(scenario())
    assert result.service_bye, result.describe()  # the service hung up, not the caller
    assert after_kill_s > 5, after_kill_s  # tpw/sorry (~7 s) played first, not dead air
    end = _end_of(s, "0311110001")
    assert (end["outcome"], end["step"], end["answered"]) == ("error_internal", "password", True)
    assert end["source"] == "asterisk"  # no server left to tell: Asterisk wrote it
    messages = (s.state_dir / "asterisk" / "log" / "messages.log").read_text()
    assert f"ivr apology played: call {end['call_id']} agi LOST step password" in messages


def test_sigterm_drains_the_call_in_progress(stack, tmp_path):
    s = stack
    s.up()  # the server killed above comes back
    metrics = int(s.env["IVR_METRICS_PORT"])
    schedule = keys((1.0, "1"), (4.0, PW), (1.5, PW))
    spec = CallSpec(did="0664806430", caller_from="0311110002", schedule=schedule, timeout_s=60)

    async def scenario():
        call = asyncio.create_task(run_call(spec, "127.0.0.1", s.sip_port, tmp_path))
        await _until_step(s, "password")
        pid = _agi_pid(s)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + WAIT_S
        while (health := await asyncio.to_thread(_health, metrics))[0] != 503:
            assert time.monotonic() < deadline, health
            await asyncio.sleep(0.05)
        refused = not probes.tcp_accepts("127.0.0.1", int(s.env["IVR_AGI_PORT"]))
        running_during = alive(pid)
        return await call, health, refused, running_during, pid

    result, health, refused, running_during, pid = asyncio.run(scenario())
    assert health[1]["status"] == "draining" and "calls to finish" in health[1]["reason"]
    assert refused and running_during
    assert result.ok, result.describe()
    end = _end_of(s, "0311110002")
    assert end["outcome"] == "set" and end.get("source") != "asterisk"
    assert procs.wait_for(lambda: not alive(pid), WAIT_S)  # exits once its call is done
    verify = s.ivrctl("tpw", "verify", "0311110002", "-", stdin=PW + "\n", check=False)
    assert verify.stdout.strip().startswith("ok"), verify.stdout
    drained = s.wait_for_line(lambda e: e.event == "agi.draining").data
    assert drained["calls"] == 1


def _health(port: int) -> tuple[int, dict]:
    import http.client  # noqa: PLC0415

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except OSError:
        return 0, {}
    finally:
        conn.close()
