"""`ivrctl cluster upgrade` under load: every node restarted in turn, no caller notices.

The cluster (Kamailio, 2 Asterisk, 2 FastAGI, a Redis primary with 2 replicas and 3
Sentinels) takes SIPp dial-ins through Kamailio at RATE_PER_S from before the upgrade
starts until after it ends. The upgrade drains and restarts each FastAGI server, takes each
Asterisk out of the dispatcher and stops it gracefully, restarts the Redis replicas, hands
the primary over (Sentinel failover) and restarts it, then each Sentinel. Every call must
end `set` with SIPp's normal end (0 dropped, 0 failed), once in the call log, and every
password must verify afterwards; every restarted part must have a new pid.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from loadgen.sipp import CallSpec, run_call
from tests.e2e.test_calls import full
from tests.e2e.test_cluster import _call_ends, _plan, _store_env, _verify_all, password
from tests.stackutil import Stack, free_port

pytestmark = pytest.mark.e2e

RATE_PER_S = 2.0
MAX_CALLS = 900  # numbers imported; the load stops when the upgrade has ended
AFTER_S = 3.0  # calls keep coming this long after the upgrade


def number(i: int) -> str:
    return f"0620{i:06d}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("rolling")
    topology = state.parent / "topology.json"
    topology.write_text(json.dumps({"redis_replicas": 2}))  # one may restart, one confirms
    c = Stack.new(
        state, IVR_SIP_PORT=str(free_port()), IVR_FIRST_KEY_S="4", IVR_INTER_KEY_S="2",
        IVR_MAX_CALL_S="60", IVR_CLUSTER_TOPOLOGY=str(topology),
    )  # fmt: skip
    try:
        c.ivrctl("cluster", "up", timeout=180)
        yield c
    finally:
        c.ivrctl("cluster", "down", check=False, timeout=120)


def _pids(c: Stack) -> dict[str, int]:
    """The pids `upgrade` restarts, as recorded by `cluster up` (Kamailio stays)."""
    recorded = [c.state_dir / f"agi-{j}/run/agi.pid" for j in range(2)]
    recorded += [c.state_dir / f"asterisk-{i}/run/asterisk.pid" for i in range(2)]
    recorded += [c.state_dir / f"run/{n}-{k}.pid" for n in ("redis", "sentinel") for k in range(3)]
    return {str(p.relative_to(c.state_dir)): int(p.read_text().split()[0]) for p in recorded}


def test_rolling_upgrade_drops_no_call(cluster, tmp_path):
    c = cluster
    csv = tmp_path / "subs.csv"
    rows = "".join(f"{number(i)},{number(i)},west,1\n" for i in range(MAX_CALLS))
    csv.write_text("contract_number,number,region,active\n" + rows)
    c.env.update(_store_env(c))
    c.ivrctl("subscribers", "import", str(csv))
    before = _pids(c)
    port = int(c.env["IVR_SIP_PORT"])
    (tmp_path / "sipp").mkdir()

    async def scenario():
        done = asyncio.Event()
        calls: list[asyncio.Task] = []

        async def upgrade():
            await asyncio.sleep(5.0)  # calls of every step in progress when it starts
            try:
                return await asyncio.to_thread(c.ivrctl, "cluster", "upgrade", timeout=900)
            finally:
                done.set()

        up = asyncio.create_task(upgrade())
        t0 = time.monotonic()
        ended_at = None
        for i in range(MAX_CALLS):
            await asyncio.sleep(max(0.0, t0 + i / RATE_PER_S - time.monotonic()))
            if done.is_set():
                ended_at = ended_at or time.monotonic()
                if time.monotonic() - ended_at > AFTER_S:
                    break
            spec = CallSpec(did="0664806430", caller_from=number(i),
                            schedule=full("1", password(i)), timeout_s=60.0)  # fmt: skip
            calls.append(asyncio.create_task(run_call(spec, "127.0.0.1", port, tmp_path / "sipp")))
        assert done.is_set(), "the upgrade outlasted the numbers imported"
        return await up, await asyncio.gather(*calls)

    upgraded, results = asyncio.run(scenario())
    print("\n" + upgraded.stdout)
    placed = len(results)
    failed = [r.describe() for r in results if not r.ok]
    assert failed == [], f"{len(failed)} of {placed} calls failed: {failed[:3]}"
    ends = [e for e in _call_ends(c) if e.caller and e.caller.startswith("0620")]
    by_caller: dict[str, list[str]] = {}
    for e in ends:
        by_caller.setdefault(str(e.caller), []).append(e.outcome)
    wrong = {n: o for n, o in by_caller.items() if o != ["set"]}
    assert wrong == {} and len(by_caller) == placed, (len(by_caller), placed, wrong)
    verified = asyncio.run(_verify_all(c, {number(i): password(i) for i in range(placed)}))
    assert {n: v for n, v in verified.items() if v != "ok"} == {}
    after = _pids(c)
    assert [k for k in before if after.get(k) in (None, before[k])] == []  # all new pids
    plan = _plan(c)
    for node in [f"agi-{j}" for j in range(2)] + [f"asterisk-{i}" for i in range(2)]:
        assert f"{node}: " in upgraded.stdout
    assert "primary handed over" in upgraded.stdout and len(plan["redis"]) == 3
    print(f"{placed} calls during the upgrade, all set and verified")
