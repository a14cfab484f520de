"""docker/docker-compose.cluster.yml for real: Kamailio (kamcmd on its ctl socket) sees both
Asterisk nodes, a call through Kamailio sets a password that a separate container verifies;
with the Redis primary stopped, Alertmanager holds IvrRedisDown for it, Sentinel promotes the
replica, and once the old primary is back (as a replica) the next call sets again."""

from __future__ import annotations

import pytest

from ivr.deploy import redis_ha
from tests.deploy.conftest import (
    call,
    import_subscribers,
    new_project,
    prometheus,
    verify,
    wait_for_alerts,
)
from tests.deploy.engine import wait_until

pytestmark = pytest.mark.e2e

TCP = [
    *(f"IVR_{name}_{i}" for i in (1, 2) for name in (
        "AMI_PORT", "ASTERISK_HTTP_PORT", "AGI_PORT", "METRICS_PORT", "REDIS_PORT",
        "REDIS_EXPORTER_PORT")),
    *(f"IVR_SENTINEL_PORT_{i}" for i in (1, 2, 3)),
    "IVR_REDIS_PORT_3",  # the second replica
    "IVR_PG_PORT", "IVR_PROMETHEUS_PORT", "IVR_ALERTMANAGER_PORT", "IVR_PG_EXPORTER_PORT",
]  # fmt: skip
UDP = ["IVR_SIP_PORT", "IVR_SIP_PORT_1", "IVR_SIP_PORT_2"]
CALLERS = ["0690013001", "0690013002"]
PASSWORDS = ["24681357", "75318642"]


@pytest.fixture(scope="module")
def cluster(engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    project = new_project(engine, tmp, "docker-compose.cluster.yml", TCP, UDP)
    try:
        project("up", "-d")
        project.healthy("postgres", "agi-1", "agi-2", "asterisk-1", "asterisk-2", "kamailio")
        import_subscribers(project, tmp, CALLERS)
        yield project, tmp
    finally:
        project("down", "-v", check=False)
    assert engine.docker("ps", "-aq").stdout.strip() == b""


def nodes_active(project) -> bool:
    out = project("exec", "-T", "kamailio", "kamcmd", "dispatcher.list").stdout.decode()
    return out.count("FLAGS: AP") == 2


def sentinels(project) -> list[int]:
    return [int(project.env[f"IVR_SENTINEL_PORT_{i}"]) for i in (1, 2, 3)]


def password(project, tmp) -> str:
    return (tmp / "secrets" / "redis-password").read_text().strip()


def test_a_call_through_kamailio_sets_a_password(cluster):
    project, tmp = cluster
    wait_until(lambda: nodes_active(project), 30, "kamcmd: both Asterisk nodes active")
    outcome = call(int(project.env["IVR_SIP_PORT"]), CALLERS[0], PASSWORDS[0], tmp / "c1")
    assert outcome.exit_code == 0 and outcome.service_bye, outcome.errors[-2000:]
    assert verify(project, CALLERS[0], PASSWORDS[0]) == "ok"
    log = project("logs", "kamailio").stdout.decode()
    nodes = [f"node=sip:127.0.0.1:{project.env[f'IVR_SIP_PORT_{i}']}" for i in (1, 2)]
    assert any(node in log for node in nodes)  # Kamailio's dispatch line for the call
    # each node's res_prometheus on a port of its own: Prometheus scrapes both
    http = {f"127.0.0.1:{project.env[f'IVR_ASTERISK_HTTP_PORT_{i}']}" for i in (1, 2)}
    port = int(project.env["IVR_PROMETHEUS_PORT"])
    wait_until(lambda: prometheus(port, 'up{job="asterisk"} == 1').keys() == http, 30,
               "Prometheus scrapes both Asterisk nodes")  # fmt: skip


def test_the_redis_primary_lost_alerts_fails_over_and_sets_again(cluster):
    project, tmp = cluster
    first = ("127.0.0.1", int(project.env["IVR_REDIS_PORT_1"]))
    assert redis_ha.current_primary(sentinels(project), password(project, tmp)) == first
    project("stop", "redis-primary")
    try:
        got = wait_for_alerts(int(project.env["IVR_ALERTMANAGER_PORT"]), {"IvrRedisDown"})
        exporter = f"127.0.0.1:{project.env['IVR_REDIS_EXPORTER_PORT_1']}"
        assert ("IvrRedisDown", exporter) in got
        replicas = {("127.0.0.1", int(project.env[f"IVR_REDIS_PORT_{i}"])) for i in (2, 3)}
        wait_until(lambda: redis_ha.current_primary(sentinels(project), password(project, tmp))
                   in replicas, 30, "Sentinel promoted a replica")  # fmt: skip
        second = redis_ha.current_primary(sentinels(project), password(project, tmp))
    finally:
        project("start", "redis-primary")
    # back as a replica of the new primary: a set can be confirmed by a replica again
    wait_until(lambda: redis_ha.replicas_online(second[1], password(project, tmp)) == 2,
               60, "the other replica and the old primary follow the new one")  # fmt: skip
    outcome = call(int(project.env["IVR_SIP_PORT"]), CALLERS[1], PASSWORDS[1], tmp / "c2")
    assert outcome.exit_code == 0, outcome.errors[-2000:]
    assert verify(project, CALLERS[1], PASSWORDS[1]) == "ok"
    assert verify(project, CALLERS[0], PASSWORDS[0]) == "ok"  # set before the failover
