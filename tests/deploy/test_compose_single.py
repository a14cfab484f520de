"""docker/docker-compose.yml for real, on an engine of the test's own with the images of
`make images`: a SIPp call through the containers sets a password that a separate container
verifies with the store library; the FastAGI server killed (SIGKILL, as a crash or the OOM
killer would) is restarted by its policy and the next call sets; Alertmanager holds the
alerts for the FastAGI server, Asterisk and Redis being down; a backup of Redis and
PostgreSQL restored into empty volumes verifies the password again; `down` leaves no
container, network or process, and `down -v` no volume.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.deploy.conftest import (
    alerts,
    call,
    import_subscribers,
    new_project,
    verify,
    wait_for_alerts,
)
from tests.deploy.engine import processes_mentioning, wait_until
from tests.stackutil import alive

pytestmark = pytest.mark.e2e

PORTS = ["IVR_AGI_PORT", "IVR_AMI_PORT", "IVR_ASTERISK_HTTP_PORT", "IVR_REDIS_PORT",
         "IVR_PG_PORT", "IVR_METRICS_PORT", "IVR_PROMETHEUS_PORT", "IVR_ALERTMANAGER_PORT",
         "IVR_REDIS_EXPORTER_PORT", "IVR_PG_EXPORTER_PORT"]  # fmt: skip
CALLERS = ["0690012001", "0690012002"]
PASSWORDS = ["13572468", "86427531"]
SERVING = ("redis", "postgres", "agi", "asterisk")


@pytest.fixture(scope="module")
def single(engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("single")
    project = new_project(engine, tmp, "docker-compose.yml", PORTS, ["IVR_SIP_PORT"])
    try:
        project("up", "-d")
        project.healthy(*SERVING)
        import_subscribers(project, tmp, CALLERS)
        yield project, tmp
    finally:
        project("down", "-v", check=False)


def sip_port(project) -> int:
    return int(project.env["IVR_SIP_PORT"])


def test_a_call_sets_a_password_another_container_verifies(single):
    project, tmp = single
    outcome = call(sip_port(project), CALLERS[0], PASSWORDS[0], tmp / "call-1")
    assert outcome.exit_code == 0 and outcome.service_bye, outcome.errors[-2000:]
    assert verify(project, CALLERS[0], PASSWORDS[0]) == "ok"
    assert verify(project, CALLERS[0], "00000000") == "wrong"
    # the shared call log volume: written by the FastAGI server, appendable by Asterisk's
    # fallback line (both uid 10001; the volume took the images' ownership, not root's)
    owner = project("exec", "-T", "asterisk", "stat", "-c", "%u %a", "/ivr/logs/calls.jsonl")
    assert owner.stdout.decode().split() == ["10001", "600"]
    project("exec", "-T", "asterisk", "test", "-w", "/ivr/logs/calls.jsonl")
    # the services run as their own users, not root
    users = {s: project.engine.inspect(project.container(s))["Config"]["User"] for s in SERVING}
    assert users == {"redis": "10002:10002", "postgres": "10004:10004",
                     "agi": "10001:10001", "asterisk": "10001:10001"}  # fmt: skip


def test_a_crashed_fastagi_server_is_restarted_and_the_next_call_sets(single):
    project, tmp = single
    agi = project.container("agi")
    before = project.engine.inspect(agi)["State"]
    os.kill(before["Pid"], signal.SIGKILL)  # the container's main process dies
    wait_until(lambda: project.engine.inspect(agi)["RestartCount"] >= 1, 30,
               "agi restarted by its policy")  # fmt: skip
    project.healthy("agi")
    assert project.engine.inspect(agi)["State"]["Pid"] != before["Pid"]
    outcome = call(sip_port(project), CALLERS[1], PASSWORDS[1], tmp / "call-2")
    assert outcome.exit_code == 0, outcome.errors[-2000:]
    assert verify(project, CALLERS[1], PASSWORDS[1]) == "ok"


def test_alertmanager_receives_fastagi_asterisk_and_redis_down(single):
    project, _ = single
    am = int(project.env["IVR_ALERTMANAGER_PORT"])
    assert not {n for n, _ in alerts(am)} & {"IvrAgiDown", "IvrAsteriskDown", "IvrRedisDown"}
    project("stop", "agi", "asterisk", "redis")
    try:
        got = wait_for_alerts(am, {"IvrAgiDown", "IvrAsteriskDown", "IvrRedisDown"})
        instances = dict(got)
        assert instances["IvrAgiDown"] == f"127.0.0.1:{project.env['IVR_METRICS_PORT']}"
        assert instances["IvrAsteriskDown"].endswith(project.env["IVR_ASTERISK_HTTP_PORT"])
    finally:
        project("start", "redis", "agi", "asterisk")
    project.healthy(*SERVING)


def test_a_backup_restored_into_empty_volumes_verifies(single):
    project, tmp = single
    port = project.env["IVR_PG_PORT"]
    rdb = project("exec", "-T", "redis", "ivr-redis-backup").stdout
    dump = project("exec", "-T", "postgres", "pg_dump", "-h", "/run/postgresql", "-p", port,
                   "-U", "postgres", "-Fc", "ivr").stdout  # fmt: skip
    assert rdb.startswith(b"REDIS") and dump.startswith(b"PGDMP")
    project("down", "-v")  # everything lost but the backups and the secrets
    project("up", "-d")
    project.healthy(*SERVING)
    assert verify(project, CALLERS[0], PASSWORDS[0]) == "none"
    project("stop", "redis")
    project("run", "--rm", "-T", "--no-deps", "redis", "ivr-redis-restore", stdin=rdb)
    project("start", "redis")
    project("exec", "-T", "postgres", "pg_restore", "-h", "/run/postgresql", "-p", port,
            "-U", "postgres", "-d", "ivr", "--clean", "--if-exists", stdin=dump)  # fmt: skip
    project.healthy("redis", "agi")
    assert verify(project, CALLERS[0], PASSWORDS[0]) == "ok"
    assert CALLERS[1] in project.tools("subscribers", "show", CALLERS[1])


def test_down_leaves_no_container_network_or_process(single):
    project, _ = single
    pids = project.pids()
    assert len(pids) == 8 and all(alive(p) for p in pids)
    project("down")
    engine = project.engine
    assert engine.docker("ps", "-aq").stdout.strip() == b""
    networks = engine.docker("network", "ls", "--format", "{{.Name}}").stdout.decode().split()
    assert sorted(networks) == ["host", "none"]
    assert not [p for p in pids if alive(p)]
    shims = [p for p in processes_mentioning(str(engine.root)) if "shim" in _cmd(p)]
    assert shims == []
    volumes = engine.docker("volume", "ls", "-q").stdout.decode().split()
    assert len(volumes) == 6 and all(v.startswith(project.name) for v in volumes)  # kept
    project("down", "-v")
    assert engine.docker("volume", "ls", "-q").stdout.strip() == b""


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""
