"""The cluster's deployment files parse and name every part (no Docker engine here), and the
rendered Kamailio configuration passes Kamailio's own check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dialplan.render import render_kamailio
from ivr.deploy.cluster_plan import Topology
from ivr.deploy.kamailio import module_path

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


def test_kamailio_config_passes_kamailio_check(tmp_path):
    (tmp_path / "dispatcher.list").write_text("1 sip:127.0.0.1:5999 0 0\n")
    cfg = render_kamailio({
        "children": "2", "sip_host": "127.0.0.1", "sip_port": "5998", "mpath": module_path(),
        "no_answer_ms": "1000", "dispatcher_list": str(tmp_path / "dispatcher.list"),
        "ping_from": "sip:dispatcher@127.0.0.1", "probe_interval_s": "1", "pike_density": "300",
        "ctl_socket": str(tmp_path / "ctl.sock"),
    })  # fmt: skip
    for needed in ("ds_select_dst", "failure_route", "pike_check_req", "record_route"):
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
