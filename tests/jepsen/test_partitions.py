"""The Jepsen-style test of the store, CI-sized (benchmarks/jepsen; docs/scale-out.md).

Ten calls/s through two real FastAGI servers while, one after the other: the primary is cut
off from everything; cut off from replicas and Sentinels but reachable by agi-0; frozen
longer than the failover; one Sentinel is cut off; agi-1 is cut off from every store node;
agi-0 is blackholed for the callers; the primary is killed for good. The checker must find
no acknowledged password lost and no verify contradicting the history; the same checker
against a weakened store (no WAIT, no min-replicas) must find lost ones. Every namespace,
veth, bridge and process is gone afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from benchmarks.jepsen import faults, run

pytestmark = pytest.mark.e2e


def _ours() -> list[str]:
    """Processes still running from a rig's dir (there must be none)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if "ivr-jepsen-" in line]


def test_no_acknowledged_password_lost_under_faults(tmp_path):
    o = run.run(rate=10.0, duration_s=0.0, schedule=faults.SCHEDULE, keep=tmp_path / "kept")
    assert json.loads((tmp_path / "kept" / "verdict.json").read_text())["anomalies"] == []
    run.print_outcome(o)
    assert o.report.acknowledged > 500 and o.rate >= 9.0, o.report.summary()
    assert o.report.anomalies == []
    assert [f["name"] for f in o.faults] == faults.SCHEDULE
    for f in o.faults:  # the store took sets again within 30 s of each fault
        assert f["stats"]["next_set_s"] is not None and f["stats"]["next_set_s"] < 30, f
    blackholed = next(f for f in o.faults if f["name"] == "agi-blackholed")["stats"]
    assert 0 < blackholed["max_lost_to_dead_server_s"] <= 3.0  # the connect timeout, once
    assert blackholed["sets_refused"] == 0
    assert o.leftovers == [] and _ours() == []


def test_weakened_store_loses_acknowledged_passwords():
    o = run.run(rate=10.0, duration_s=0.0, schedule=["primary-minority"], weak=True)
    run.print_outcome(o)
    assert o.report.lost_sets > 0, o.report.summary()
    assert o.leftovers == [] and _ours() == []


def test_runs_as_root():
    assert os.geteuid() == 0  # ip netns needs it; the sandbox runs the tests as root
