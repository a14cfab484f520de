"""A digest peer (IVR_SIP_PEERS_FILE) on the cluster: a source outside IVR_SIP_TRUSTED that
authenticates may present its own user as caller ID and nothing else (docs/security.md).

From 127.0.0.2 (not trusted): an INVITE without credentials is challenged (407); with the
right password it is routed, its P-Asserted-Identity naming a subscriber is removed, and the
node sees the peer's own user (not a subscriber: refused 403 by the service, one
`call.end` with that caller); with a wrong password, or with the subscriber's number in From,
Kamailio answers 403 and no node sees it.
"""

from __future__ import annotations

import json

import pytest

from ivr.config.secret_files import write_private
from ivr.flow.calllog import CallEnd, read_lines
from tests.e2e import sipprobe
from tests.stackutil import Stack, free_port

pytestmark = pytest.mark.e2e

DID, SUBSCRIBER, PEER, SECRET = "0664806430", "0690077031", "0690077039", "peer-s3cret-7f2a"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("peers")
    (state / "topology.json").write_text(json.dumps({"asterisk_nodes": 1, "agi_servers": 1,
                                                     "redis_replicas": 0}))  # fmt: skip
    write_private(state / "peers", f"{PEER} {SECRET}\n")
    c = Stack.new(state, IVR_SIP_PORT=str(free_port()), IVR_SIP_PEERS_FILE=str(state / "peers"),
                  IVR_EARLY_MEDIA="0")  # fmt: skip
    try:
        c.ivrctl("cluster", "up", "--topology", str(state / "topology.json"), timeout=180)
        plan = json.loads((state / "cluster.json").read_text())
        c.env["IVR_DATABASE_URL"] = plan["database_url"]
        csv = state / "subs.csv"
        csv.write_text(f"contract_number,number,region,active\n{SUBSCRIBER},{SUBSCRIBER},west,1\n")
        c.ivrctl("subscribers", "import", str(csv))
        yield c
    finally:
        c.ivrctl("cluster", "down", check=False, timeout=120)


def _call_ends(c: Stack) -> list[CallEnd]:
    """Every node's call.end records (the cluster's FastAGI servers log in their own dirs)."""
    lines = [line for log in c.state_dir.glob("*/logs/calls.jsonl") for line in read_lines(log)[0]]
    return [line.end for line in lines if line.end is not None]


def test_a_digest_peer_presents_its_own_number_only(cluster):
    c, port = cluster, cluster.sip_port
    send = lambda frm, **kw: sipprobe.invite("127.0.0.1", port, DID, frm, "127.0.0.2", 10, **kw)  # noqa: E731
    assert send(PEER, pai=SUBSCRIBER) == 407  # no credentials: challenged (a proxy: 407)
    assert send(PEER, pai=SUBSCRIBER, auth=(PEER, "wrong")) == 403
    assert send(SUBSCRIBER, auth=(PEER, SECRET)) == 403  # From is not the peer's own user
    assert _call_ends(c) == []  # none of them reached a node
    assert send(PEER, pai=SUBSCRIBER, auth=(PEER, SECRET)) == 403  # the service's refusal
    ends = _call_ends(c)
    assert [(e.caller, e.outcome) for e in ends] == [(PEER, "rejected_not_subscribed")]
    klog = (c.state_dir / "logs" / "kamailio.out").read_text()
    assert f"src=127.0.0.2 user={PEER} INVITE" in klog
    # the refusals were Kamailio's judgement: wrong password (-2), From not the user (-8)
    assert "refused INVITE auth=-2" in klog and "refused INVITE auth=-8" in klog
    assert "failed to query database" not in klog
