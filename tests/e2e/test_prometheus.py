"""A real Prometheus scrapes a real stack: the FastAGI server's /metrics and Asterisk's own
res_prometheus. After SIPp calls with known outcomes, PromQL through Prometheus' HTTP API
returns counter increases equal to the calls made, by outcome."""

from __future__ import annotations

import asyncio
import subprocess
import urllib.request

import pytest

from loadgen.rtp_pcap import keys_at
from loadgen.sipp import CallSpec, run_call
from tests.promutil import Prometheus

pytestmark = pytest.mark.e2e

SET_CALLERS = ("0670000001", "0670000002")
STRIKES_CALLER = "0670000003"
SUBSCRIBERS = "contract_number,number\n" + "".join(
    f"{n},{n}\n" for n in (*SET_CALLERS, STRIKES_CALLER)
)
PWS = ("46182093", "57293014")
EXPECTED = {"set": 2, "rejected_anonymous": 1, "failed_strikes": 1}
# Each counter's rise over the test, from its raw samples (a counter never resets here).
INCREASE = "max_over_time({m}[10m]) - min_over_time({m}[10m])"


def specs() -> list[CallSpec]:
    calls = [
        CallSpec(
            did="0664806430",
            caller_from=caller,
            schedule=keys_at(1.0, "1", 0.3) + keys_at(2.5, pw, 0.3) + keys_at(6.0, pw, 0.3),
            timeout_s=60,
        )
        for caller, pw in zip(SET_CALLERS, PWS, strict=True)
    ]
    calls.append(
        CallSpec(
            did="0664806430",
            caller_from=STRIKES_CALLER,
            schedule=keys_at(1.0, "4", 0.3) + keys_at(3.0, "0", 0.3) + keys_at(5.0, "*", 0.3),
            timeout_s=60,
        )
    )
    calls.append(
        CallSpec(
            did="0664806430",
            caller_from="anonymous",
            refused_with=433,
            expect_service_bye=False,
            timeout_s=30,
        )
    )
    return calls


async def place(stack, workdir) -> list:
    return await asyncio.gather(
        *(run_call(s, "127.0.0.1", stack.sip_port, workdir) for s in specs())
    )


@pytest.fixture(scope="module")
def scraped(stack, tmp_path_factory):
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    agi = f"127.0.0.1:{stack.env['IVR_METRICS_PORT']}"
    asterisk = f"127.0.0.1:{stack.env['IVR_ASTERISK_HTTP_PORT']}"
    prom = Prometheus(
        {"ivr-agi": [agi], "asterisk": [asterisk]}, workdir=tmp_path_factory.mktemp("prom")
    )
    prom.start()
    try:
        # Both targets up, and our counters seen at 0 before the first call.
        prom.wait_for("up", lambda r: len(r) == 2 and set(r.values()) == {1.0})
        prom.wait_for('ivr_calls_total{outcome="set"}', lambda r: list(r.values()) == [0.0])
        results = asyncio.run(place(stack, tmp_path_factory.mktemp("sipp")))
        yield prom, results
    finally:
        prom.stop()


def test_calls_were_placed_as_planned(stack, scraped):
    _, results = scraped
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]


def test_counter_increases_equal_the_calls_by_outcome(scraped):
    prom, _ = scraped
    expected = {(("outcome", o),): float(n) for o, n in EXPECTED.items()}
    query = f"sum by (outcome) ({INCREASE.format(m='ivr_calls_total')}) > 0"
    got = prom.wait_for(query, lambda r: r == expected, timeout_s=30)
    assert got == expected
    rejected = prom.query(f"sum by (reason) ({INCREASE.format(m='ivr_rejections_total')}) > 0")
    assert rejected == {(("reason", "anonymous"),): 1.0}
    strikes = prom.query(f"sum by (step) ({INCREASE.format(m='ivr_strikes_total')}) > 0")
    assert strikes == {(("step", "menu"),): 3.0}
    assert prom.query('ivr_calls_in_progress{job="ivr-agi"}') == {
        (("instance", prom.targets["ivr-agi"][0]), ("job", "ivr-agi")): 0.0
    }
    commands = prom.query('sum(ivr_agi_command_seconds_count{job="ivr-agi"})')
    assert commands[()] > 20  # every AGI command of the four calls was timed


def test_asterisk_metrics_are_scraped(scraped):
    prom, _ = scraped
    assert list(prom.query('up{job="asterisk"}').values()) == [1.0]
    names = prom.api("label/__name__/values")
    assert "asterisk_core_uptime_seconds" in names, [n for n in names if "asterisk" in n]
    # Asterisk's HTTP server answers on loopback only.
    port = prom.targets["asterisk"][0].rsplit(":", 1)[1]
    listening = subprocess.run(
        ["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line.split()[3] for line in listening] == [f"127.0.0.1:{port}"]


def test_promtool_accepts_the_live_exposition(stack, scraped):
    url = f"http://127.0.0.1:{stack.env['IVR_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        exposition = resp.read()
    assert b'ivr_calls_total{outcome="set"} 2.0' in exposition
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for caller in (*SET_CALLERS, STRIKES_CALLER, *PWS):  # no number or digit in any label
        assert caller.encode() not in exposition
