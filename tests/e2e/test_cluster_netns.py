"""`ivrctl cluster` with each store node and FastAGI server in a namespace of its own.

Real SIPp calls (from the edge namespace, `ivrctl cluster exec`) through Kamailio, Asterisk,
a FastAGI server in its namespace and Redis in theirs. The Redis primary is cut off
(`cluster cut`: its link down): the Sentinels fail over, the next call sets, the first
password still verifies; healed, it rejoins (`cluster up` waits until the store settles).
Then a FastAGI server is blackholed: a new call waits for Asterisk's AGI connect timeout
before the next server takes it (measured from SIPp's own trace: INVITE to 200 OK, against
a call just before the cut). `cluster down` leaves no namespace, process or mount, and the
host's own namespace never gains an address or a link.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from ivr.deploy import netns
from ivr.deploy.procs import wait_for
from ivr.flow.calllog import read_lines
from ivr.flow.outcomes import Outcome
from loadgen.sipp import CallOutcome, CallSpec, run_call
from tests.e2e.test_calls import full
from tests.stackutil import IVRCTL, REPO, Stack, alive, free_port, mounts_under

pytestmark = pytest.mark.e2e

TOPOLOGY = {"netns": 1, "asterisk_nodes": 1, "agi_servers": 2}
BLACKHOLE_BOUND_S = 5.0  # Asterisk's AGI connect timeout is 2 s (res_agi MAX_AGI_CONNECT)
STAMP = re.compile(r"^-{5,} (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)", re.MULTILINE)


def number(i: int) -> str:
    return f"0610{i + 900:06d}"


def password(i: int) -> str:
    return f"{(i * 7919 + 24681357) % 100000000:08d}"


def _host_net() -> tuple[str, set[str]]:
    """The host namespace's addresses, and the names of its links."""
    addrs = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    return addrs.stdout, {line.split(":")[1].strip() for line in links.stdout.splitlines()}


def _ours_on_host(before: set[str]) -> list[str]:
    """Links new in the host namespace named like the cluster's (veths v<N>, the bridge)."""
    new = _host_net()[1] - before
    return [name for name in new if re.fullmatch(r"(v\d+|br0|eth0)(@.*)?", name)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("cluster")
    topology = state.parent / f"{state.name}-topology.json"
    topology.write_text(json.dumps(TOPOLOGY))
    c = Stack.new(state, IVR_SIP_PORT=str(free_port()), IVR_FIRST_KEY_S="4",
                  IVR_INTER_KEY_S="2", IVR_MAX_CALL_S="60",
                  IVR_CLUSTER_TOPOLOGY=str(topology))  # fmt: skip
    before = _host_net()[1]
    tag = None
    try:
        c.ivrctl("cluster", "up", timeout=240)
        tag = json.loads((state / "cluster.json").read_text())["netns"]["tag"]
        yield c, before
    finally:
        c.ivrctl("cluster", "down", check=False, timeout=120)
        if tag is not None:  # whatever a failed down left: removed, and the test fails
            netns.Net(tag=tag).remove()


def _exec(c: Stack, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """argv in the cluster's edge namespace (`ivrctl cluster exec --`)."""
    return c.ivrctl("cluster", "exec", "--", *argv, check=False, stdin=stdin, timeout=60)


def _verify(c: Stack, i: int) -> str:
    out = _exec(c, sys.executable, "-m", "ivr.cli", "tpw", "verify", number(i), "-",
                stdin=password(i) + "\n")  # fmt: skip
    return out.stdout.strip() or out.stderr.strip()


def _call(c: Stack, workdir: Path, i: int) -> CallOutcome:
    spec = CallSpec(did="0664806430", caller_from=number(i), schedule=full("1", password(i)),
                    timeout_s=40.0)  # fmt: skip
    prefix = ["env", f"IVR_STATE_DIR={c.state_dir}", f"PYTHONPATH={REPO}", *IVRCTL,
              "cluster", "exec", "--"]  # fmt: skip
    workdir.mkdir(exist_ok=True)
    return asyncio.run(run_call(spec, "127.0.0.1", c.sip_port, workdir, prefix=prefix))


def _ended_on(c: Stack, i: int) -> dict[str, Outcome]:
    """{FastAGI server: outcome} of number i's call.end lines."""
    out = {}
    for log in sorted(c.state_dir.glob("agi-*/logs/calls.jsonl")):
        for line in read_lines(log)[0]:
            if line.end is not None and line.end.caller == number(i):
                out[log.parts[-3]] = line.end.outcome
    return out


def _set_on(c: Stack, i: int) -> str:
    """The server whose call log says number i's call set (waits for the line)."""
    found: list[str] = []

    def done() -> bool:
        found[:] = [agi for agi, o in _ended_on(c, i).items() if o == Outcome.SET]
        return bool(found)

    assert wait_for(done, 15.0, 0.2), f"call {i}: no call.end set in any server's log"
    return found[0]


def _answer_s(outcome: CallOutcome) -> float:
    """INVITE sent to 200 OK received, from SIPp's message trace."""
    text = outcome.messages
    sent = re.search(r"message sent[^\n]*\n\s*INVITE ", text)
    ok = re.search(r"message received[^\n]*\n\s*SIP/2\.0 200 ", text)
    assert sent and ok, outcome.describe()

    def stamp(at: int) -> float:
        found = list(STAMP.finditer(text, 0, at))
        assert found, "no timestamp in SIPp's trace"
        return datetime.fromisoformat(" ".join(found[-1][1].split())).timestamp()

    return stamp(ok.start()) - stamp(sent.start())


def _status(c: Stack) -> str:
    return c.ivrctl("cluster", "status", check=False, timeout=60).stdout


def _primary(c: Stack) -> str | None:
    found = re.search(r"^(redis-\d+) .*\(primary\)", _status(c), re.MULTILINE)
    return found[1] if found else None


def test_netns_cluster_partition_failover_and_blackhole(cluster, tmp_path):
    c, links_before = cluster
    plan = json.loads((c.state_dir / "cluster.json").read_text())
    tag, nodes = plan["netns"]["tag"], plan["netns"]["nodes"]
    assert f" {netns.SUBNET}." not in _host_net()[0] and _ours_on_host(links_before) == []
    assert len(netns.leftovers(tag)) == len(nodes) + 1  # each node's, and the hub
    inside = _exec(c, "ip", "-o", "-4", "addr", "show", "eth0")  # the edge's address
    assert nodes["edge"] in inside.stdout, inside
    csv = tmp_path / "subs.csv"
    csv.write_text("contract_number,number,region,active\n"
                   + "".join(f"{number(i)},{number(i)},west,1\n" for i in range(8)))  # fmt: skip
    imported = _exec(c, sys.executable, "-m", "ivr.cli", "subscribers", "import", str(csv))
    assert imported.returncode == 0, imported

    first = _call(c, tmp_path / "sipp", 0)
    assert first.ok, first.describe()
    assert _set_on(c, 0) == "agi-0"  # asterisk-0 tries agi-0 first
    assert _verify(c, 0) == "ok"

    # the Redis primary cut off: a failover, the next call sets, the first password stays
    old = _primary(c)
    assert old is not None, _status(c)
    assert c.ivrctl("cluster", "cut", old).stdout.strip().endswith("cut off (its link is down)")
    t_cut = time.monotonic()
    assert wait_for(lambda: _primary(c) not in (None, old), 60.0, 0.5), _status(c)
    failover_s = time.monotonic() - t_cut
    # A server's pooled connection to the cut primary waits for its socket timeout (5 s,
    # store.redisconn) before it asks the Sentinels again: a call meanwhile is a store error.
    store_errors, i = 0, 1
    while True:
        after_cut_s = time.monotonic() - t_cut  # when the call that sets started
        if _call(c, tmp_path / "sipp", i).ok:
            break
        assert Outcome.ERROR_STORE in _ended_on(c, i).values(), _ended_on(c, i)
        store_errors, i = store_errors + 1, i + 1
        assert time.monotonic() - t_cut < 90 and i < 5, "no call set within 90 s of the cut"
    _set_on(c, i)
    assert (_verify(c, 0), _verify(c, i)) == ("ok", "ok")
    c.ivrctl("cluster", "heal", old)
    c.ivrctl("cluster", "up", timeout=120)  # returns once every replica is online again
    assert _primary(c) != old  # the healed node came back as a replica

    # a FastAGI server blackholed: the next server takes the call after the connect timeout
    baseline = _call(c, tmp_path / "sipp", 6)
    assert baseline.ok, baseline.describe()
    assert _set_on(c, 6) == "agi-0"
    c.ivrctl("cluster", "cut", "agi-0")
    try:
        cut = _call(c, tmp_path / "sipp", 7)
    finally:
        c.ivrctl("cluster", "heal", "agi-0")
    assert cut.ok, cut.describe()
    assert _set_on(c, 7) == "agi-1" and "agi-0" not in _ended_on(c, 7)
    wait_s = _answer_s(cut) - _answer_s(baseline)
    print(f"\nnetns cluster: Sentinels named a new primary {failover_s:.1f}s after the cut; "
          f"{store_errors} call(s) ended error_store, a call set {after_cut_s:.1f}s after "
          f"the cut; INVITE->200 "
          f"{_answer_s(baseline):.2f}s normally, {_answer_s(cut):.2f}s with agi-0 "
          f"blackholed: the blackhole cost {wait_s:.2f}s")  # fmt: skip
    assert wait_s <= BLACKHOLE_BOUND_S

    # down: no namespace, no process, no mount; the host namespace as it was
    pids = [int(p.read_text().split()[0]) for p in c.state_dir.glob("**/run/*.pid")]
    assert pids
    c.ivrctl("cluster", "down", timeout=120)
    assert netns.leftovers(tag) == []
    assert [p for p in pids if alive(p)] == []
    assert mounts_under(c.state_dir) == []
    assert f" {netns.SUBNET}." not in _host_net()[0] and _ours_on_host(links_before) == []
