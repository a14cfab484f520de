"""A call over a FastAGI server's own cap (IVR_AGI_MAX_CALLS) is counted, passed on, ends once.

Two FastAGI servers, each with IVR_AGI_MAX_CALLS=1: A (the stack's own, `ivrctl stack up`)
and B (a second `ivrctl serve` on the same Redis, directory and secrets, its own call log),
tried in that order by the dialplan (re-rendered and reloaded over AMI). A holds one call;
the next is refused by A at its cap and passed on (AGISTATUS=FAILURE): B answers it. With
both full, the next hears the apology as early media and is refused 503 before answer, and
its one `call.end` (`rejected_capacity`) comes from A's uncapped hangup report. Each
refusal is in its server's `ivr_rejections_total{reason="agi_capacity"}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config.settings import Settings
from ivr.deploy import probes, procs
from ivr.deploy.stack import Layout, prepare_asterisk
from tests.e2e.rawsip import RawCall
from tests.e2e.test_refusals import assert_refused_with_text
from tests.promutil import changes, scrape
from tests.stackutil import REPO, Stack, free_port, running

pytestmark = pytest.mark.e2e

WEST = "0664806430"
ON_A, ON_B, REFUSED = "0690010001", "0690010002", "0690010003"
SUBSCRIBERS = "contract_number,number\n" + "".join(f"{n},{n}\n" for n in (ON_A, ON_B, REFUSED))


def second_server(stack: Stack, state_dir: Path) -> tuple[subprocess.Popen[bytes], dict]:
    """`ivrctl serve`'s process with the stack's store and secrets, its own ports and log."""
    a = stack.state_dir
    env = {
        **stack.env,
        "IVR_STATE_DIR": str(state_dir),
        "IVR_AGI_PORT": str(free_port()),
        "IVR_METRICS_PORT": str(free_port()),
        "IVR_REDIS_URL": Settings.from_env(stack.env).redis_url,
        "IVR_REDIS_PASSWORD_FILE": str(a / "redis-password"),
        "IVR_PEPPER_FILE": str(a / "pepper"),
        "IVR_AGI_SECRET_FILE": str(a / "agi-secret"),
        "IVR_DATABASE_URL": f"sqlite:///{a / 'ivr.db'}",
    }
    state_dir.mkdir(mode=0o700)
    with open(state_dir / "serve.out", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ivr.service.serve", "--quiet"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    port = int(env["IVR_METRICS_PORT"])
    up = procs.wait_for(lambda: probes.http_status("127.0.0.1", port, "/healthz") == 200, 30)
    if not up:
        stop(proc)
        raise AssertionError((state_dir / "serve.out").read_text()[-2000:])
    return proc, env


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


async def reload_dialplan(stack: Stack) -> None:
    manager = await stack.ami()
    try:
        reply = await asyncio.wait_for(
            manager.send_action({"Action": "Reload", "Module": "pbx_config"}), 10
        )
        assert reply.Response == "Success", reply
    finally:
        manager.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(stack, B's env): the stack's dialplan tries A, then B."""
    with running(tmp_path_factory.mktemp("agi-cap"), SUBSCRIBERS, IVR_AGI_MAX_CALLS="1") as s:
        proc, b_env = second_server(s, tmp_path_factory.mktemp("b") / "state")
        try:
            order = [f"127.0.0.1:{s.env['IVR_AGI_PORT']}", f"127.0.0.1:{b_env['IVR_AGI_PORT']}"]
            prepare_asterisk(Layout(Settings.from_env(s.env)), agi_servers=order)
            asyncio.run(reload_dialplan(s))
            yield s, b_env
        finally:
            stop(proc)


def ends(log: Path, caller: str) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [e for e in lines if e.get("event") == "call.end" and e.get("caller") == caller]


async def fill_both_then_call(stack: Stack) -> tuple[RawCall, RawCall, RawCall]:
    port = stack.sip_port
    async with RawCall(did=WEST, caller=ON_A, sip_port=port) as on_a:
        async with RawCall(did=WEST, caller=ON_B, sip_port=port) as on_b:  # passed on by A
            refused = RawCall(
                did=WEST, caller=REFUSED, sip_port=port, expect_answer=False, timeout_s=30
            )
            async with refused:
                pass
    return on_a, on_b, refused


def test_over_the_agi_cap_the_next_server_then_the_apology_and_one_call_end(servers):
    stack, b_env = servers
    a_metrics, b_metrics = int(stack.env["IVR_METRICS_PORT"]), int(b_env["IVR_METRICS_PORT"])
    a_before, b_before = scrape(a_metrics), scrape(b_metrics)
    on_a, on_b, refused = asyncio.run(fill_both_then_call(stack))
    assert on_a.final_status == 200 and on_b.final_status == 200
    assert_refused_with_text(refused, 503)  # 183 with the apology, never a 200
    a_log, b_log = stack.calls_log, Path(b_env["IVR_STATE_DIR"]) / "logs" / "calls.jsonl"
    stack.wait_for_line(lambda e: e.get("event") == "call.end" and e["caller"] == REFUSED)
    Stack(Path(b_env["IVR_STATE_DIR"]), b_env).wait_for_line(
        lambda e: e.get("event") == "call.end" and e["caller"] == ON_B
    )
    stack.wait_for_line(lambda e: e.get("event") == "call.end" and e["caller"] == ON_A)
    # Each call's one line, in the log of the server that ran it (Asterisk writes none).
    assert [len(ends(a_log, c)) for c in (ON_A, ON_B, REFUSED)] == [1, 0, 1]
    assert [len(ends(b_log, c)) for c in (ON_A, ON_B, REFUSED)] == [0, 1, 0]
    [end] = ends(a_log, REFUSED)
    assert (end["outcome"], end["step"], end["answered"]) == (
        "rejected_capacity",
        "caller_check",
        False,
    )
    assert "source" not in end  # the server's line, not Asterisk's fallback
    assert ends(b_log, ON_B)[0]["answered"] is True
    a_after, b_after = scrape(a_metrics), scrape(b_metrics)
    assert changes(a_before, a_after, "ivr_calls_total", "outcome") == {
        "abandoned": 1,
        "rejected_capacity": 1,
    }
    assert changes(b_before, b_after, "ivr_calls_total", "outcome") == {"abandoned": 1}
    # A refused ON_B and REFUSED; B refused REFUSED. The flow's own cap refused nothing.
    assert changes(a_before, a_after, "ivr_rejections_total", "reason") == {"agi_capacity": 2}
    assert changes(b_before, b_after, "ivr_rejections_total", "reason") == {"agi_capacity": 1}
    refusals = [json.loads(line) for line in a_log.read_text().splitlines()]
    assert [e["reason"] for e in refusals if e["event"] == "agi.refused"] == ["capacity"] * 2
