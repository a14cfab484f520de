"""The cluster's deployment files parse and name every part (no Docker engine here), and the
rendered Kamailio configuration passes Kamailio's own check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dialplan.render import render_kamailio
from ivr.deploy.cluster_plan import Topology
from ivr.deploy.kamailio import listen_lines, module_path, peer_tables, trusted_list

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def test_compose_has_the_cluster_topology():
    compose = yaml.safe_load((DOCKER / "docker-compose.cluster.yml").read_text())
    services = compose["services"]
    for name in (
        "kamailio",
        "asterisk-1",
        "asterisk-2",
        "agi-1",
        "agi-2",
        "redis-primary",
        "redis-replica",
        "redis-replica-2",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "postgres",
    ):
        assert name in services, name
    agi = services["agi-1"]["environment"]
    assert agi["IVR_REDIS_URL"].startswith("redis+sentinel://")
    assert agi["IVR_REDIS_REPLICAS"] == "1"
    assert "--replicaof" in services["redis-replica"]["command"]
    for node in ("redis-primary", "redis-replica", "redis-replica-2"):  # no unreplicated write
        assert "--min-replicas-to-write" in services[node]["command"], node


@pytest.mark.parametrize("peers", [False, True])
def test_kamailio_config_passes_kamailio_check(tmp_path, peers):
    (tmp_path / "dispatcher.list").write_text("1 sip:127.0.0.1:5999 0 0\n")
    (tmp_path / "trusted.list").write_text(trusted_list(("127.0.0.1", "192.0.2.0/24")))
    for name, text in peer_tables([("0690000001", "s3cret")]).items():
        (tmp_path / name).write_text(text)
    cfg = render_kamailio({
        "children": "2", "listen": listen_lines("192.0.2.1", 5998), "mpath": module_path(),
        "trusted_list": str(tmp_path / "trusted.list"), "node_socket": "udp:127.0.0.1:5998",
        "no_answer_ms": "1000", "dispatcher_list": str(tmp_path / "dispatcher.list"),
        "ping_from": "sip:dispatcher@127.0.0.1", "probe_interval_s": "1", "pike_density": "300",
        "peers_define": "#!define WITH_PEERS" if peers else "# none", "peers_dir": str(tmp_path),
        "ctl_socket": str(tmp_path / "kamailio_ctl"),
    })  # fmt: skip
    assert (tmp_path / "trusted.list").read_text() == "1 127.0.0.1 32 0\n1 192.0.2.0 24 0\n"
    for needed in ("ds_select_dst", "failure_route", "pike_check_req", "allow_source_address"):
        assert needed in cfg
    (tmp_path / "kamailio.cfg").write_text(cfg)
    check = subprocess.run(["kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert check.returncode == 0, check.stderr[-2000:]


def test_topology_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"asterisk_nodes": 0}')
    with pytest.raises(ValueError, match="asterisk_nodes must be a positive integer"):
        Topology.load(bad)
    bad.write_text('{"nodes": 2}')
    with pytest.raises(ValueError, match="keys must be among"):
        Topology.load(bad)
    good = tmp_path / "g.json"
    good.write_text('{"asterisk_nodes": 3, "redis_replicas": 2}')
    assert Topology.load(good) == Topology(asterisk_nodes=3, redis_replicas=2)
