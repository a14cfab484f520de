"""The cluster's SIP edge trusts only IVR_SIP_TRUSTED (docs/security.md "Who may call").

`ivrctl cluster up` with Kamailio also listening on the host's end of a veth pair, so a test
host in a network namespace of its own reaches it from another address. An INVITE carrying
a subscriber's number in P-Asserted-Identity and in From, from that host or from 127.0.0.2,
is refused (403) and sets nothing; the same call from the trusted source (127.0.0.1, the
default) sets the password; the trusted source at 5x pike's density is not blocked, while
an untrusted one is.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from ivr.deploy import redis_ha
from ivr.flow.calllog import CallEnd, read_lines
from loadgen.sipp import CallSpec, run_call
from tests.e2e import sipprobe
from tests.e2e.test_calls import full
from tests.netns import leftovers, ns_host
from tests.stackutil import REPO, Stack, alive, free_port, mounts_under

pytestmark = pytest.mark.e2e

PIKE = 10  # requests per source per 2 s (the topology's pike_density)
DID, NUMBER, PASSWORD = "0664806430", "0690077001", "73915528"


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    state = tmp_path_factory.mktemp("edge")
    topology = state / "topology.json"
    topology.write_text(json.dumps({"asterisk_nodes": 1, "agi_servers": 1,
                                    "redis_replicas": 0, "pike_density": PIKE}))  # fmt: skip
    with ns_host() as host:
        c = Stack.new(state, IVR_SIP_PORT=str(free_port()), IVR_SIP_HOST=host.host_ip,
                      IVR_FIRST_KEY_S="4", IVR_INTER_KEY_S="2", IVR_MAX_CALL_S="60")  # fmt: skip
        try:
            c.ivrctl("cluster", "up", "--topology", str(topology), timeout=180)
            plan = json.loads((state / "cluster.json").read_text())
            c.env.update({
                "IVR_DATABASE_URL": plan["database_url"],
                "IVR_REDIS_URL": redis_ha.sentinel_url(plan["sentinels"]),
                "IVR_REDIS_PASSWORD_FILE": str(state / "redis-password"),
                "IVR_PEPPER_FILE": str(state / "pepper"),
            })  # fmt: skip
            csv = state / "subs.csv"
            csv.write_text(f"contract_number,number,region,active\n{NUMBER},{NUMBER},west,1\n")
            c.ivrctl("subscribers", "import", str(csv))
            yield c, host
        finally:
            pids = [int(p.read_text().split()[0]) for p in state.glob("**/run/*.pid")]
            c.ivrctl("cluster", "down", check=False, timeout=120)
    assert [p for p in pids if alive(p)] == []
    assert mounts_under(state) == []
    assert leftovers() == []


def _call_ends(c: Stack) -> list[CallEnd]:
    """Every node's call.end records (the cluster's FastAGI servers log in their own dirs)."""
    lines = [line for log in c.state_dir.glob("*/logs/calls.jsonl") for line in read_lines(log)[0]]
    return [line.end for line in lines if line.end is not None]


def _kamailio_log(c: Stack) -> str:
    return (c.state_dir / "logs" / "kamailio.out").read_text()


def test_untrusted_caller_id_is_refused_trusted_sets(edge, tmp_path):
    c, host = edge
    port = c.sip_port
    # from the namespace's host, over the veth, to Kamailio's address on this side
    probe = [sys.executable, "-m", "tests.e2e.sipprobe", "invite", host.host_ip, str(port)]
    out = subprocess.run(host.argv(*probe, DID, NUMBER, host.ns_ip), capture_output=True,
                         text=True, timeout=20, cwd=REPO)  # fmt: skip
    assert out.stdout.strip() == "403", out.stderr
    # from another loopback address: still another host as far as Kamailio can tell
    assert sipprobe.invite("127.0.0.1", port, DID, NUMBER, "127.0.0.2") == 403
    klog = _kamailio_log(c)
    assert f"src={host.ns_ip} refused INVITE" in klog and "src=127.0.0.2 refused INVITE" in klog
    assert "dispatch" not in klog.split("untrusted", 1)[1]  # never routed to a node
    assert _call_ends(c) == []  # no Asterisk node or FastAGI server saw either call
    assert c.ivrctl("tpw", "show", NUMBER, check=False).stdout.strip() == "none"

    # the same call from the trusted source sets the password
    (tmp_path / "sipp").mkdir()
    spec = CallSpec(did=DID, caller_from=NUMBER, pai=NUMBER, schedule=full("1", PASSWORD),
                    timeout_s=40.0)  # fmt: skip
    result = asyncio.run(run_call(spec, "127.0.0.1", port, tmp_path / "sipp"))
    assert result.ok, result
    assert [e.outcome for e in _call_ends(c) if e.caller == NUMBER] == ["set"]
    verify = c.ivrctl("tpw", "verify", NUMBER, PASSWORD, check=False)
    assert verify.stdout.strip() == "ok"


def test_pike_spares_the_trunk_and_guards_the_rest(edge):
    c, _host = edge
    sent = 5 * PIKE  # in one 2 s sampling unit: five times the density
    assert sipprobe.burst("127.0.0.1", c.sip_port, "127.0.0.1", sent, 2.0) == sent
    untrusted = sipprobe.burst("127.0.0.1", c.sip_port, "127.0.0.3", sent, 2.0)
    assert untrusted < 3 * PIKE  # pike dropped the rest without a reply
    assert "src=127.0.0.3 blocked OPTIONS" in _kamailio_log(c)
    assert "src=127.0.0.1 blocked" not in _kamailio_log(c)
