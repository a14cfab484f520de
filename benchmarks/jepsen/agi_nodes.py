"""FastAGI servers of the partition test, each the real `ivr.service.serve` in its own netns.

They share the rig's pepper, AGI secret and Redis password (0600 files in the rig's dir),
reach the store through the Sentinels' addresses, and each has its own SQLite directory
holding the test callers. The derivation is Argon2id at negligible cost
(benchmarks.serve_light_kdf): the test is about the store, and 2 cores carry the load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.jepsen.rig import Rig
from ivr.config.secret_files import private_dir, read_or_create
from ivr.config.settings import Settings
from ivr.deploy.procs import wait_for
from ivr.tools import testrange

AGI_PORT, METRICS_PORT = 4573, 9100
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Agi:
    name: str
    host: str
    pid: int
    calls_log: Path


def env_of(rig: Rig, name: str, host: str, *, replicas: int) -> dict[str, str]:
    state = rig.dir / name
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update(
        IVR_STATE_DIR=str(state),
        IVR_DATABASE_URL=f"sqlite:///{state / 'directory.db'}",
        IVR_REDIS_URL=rig.url,
        IVR_REDIS_PASSWORD_FILE=str(rig.dir / "redis-password"),
        IVR_REDIS_REPLICAS=str(replicas),
        IVR_REDIS_REPLICA_TIMEOUT_MS="1000",
        IVR_PEPPER_FILE=str(rig.dir / "pepper"),
        IVR_AGI_SECRET_FILE=str(rig.dir / "agi-secret"),
        IVR_AGI_HOST=host,
        IVR_AGI_PORT=str(AGI_PORT),
        IVR_METRICS_HOST=host,
        IVR_METRICS_PORT=str(METRICS_PORT),
        IVR_AGI_ALLOW=f"{rig.net.nodes['asterisk']}/32" if rig.net else "127.0.0.0/8",
        IVR_MAX_CALLS_PER_S="0",
        IVR_LIMIT_CALLS_PER_HOUR="0",  # the same test callers call again and again
        IVR_LIMIT_FAILED_PER_HOUR="0",
        PYTHONPATH=str(REPO),
    )
    return env


def tcp_open(rig: Rig, host: str, port: int) -> bool:
    """Something accepts host:port, seen from the rig's ctl namespace."""
    assert rig.net is not None
    argv = rig.net.argv("ctl", ["timeout", "2", "bash", "-c", f": </dev/tcp/{host}/{port}"])
    return subprocess.run(argv, capture_output=True, timeout=5).returncode == 0


def start(rig: Rig, count: int, numbers: Sequence[str], *, replicas: int = 1) -> list[Agi]:
    """count servers agi-0.. in namespaces of their own; every one answers before return."""
    assert rig.net is not None
    read_or_create(rig.dir / "agi-secret")
    out = []
    for j in range(count):
        name = f"agi-{j}"
        host = rig.net.add(name)
        env = env_of(rig, name, host, replicas=replicas)
        settings = Settings.from_env(env)
        for d in (settings.state_dir, settings.log_dir):
            private_dir(d)
        testrange.import_numbers(settings, numbers)
        argv = [sys.executable, "-m", "benchmarks.serve_light_kdf", "--quiet"]
        proc = rig.spawn(name, rig.net.argv(name, argv), env=env)
        out.append(Agi(name, host, proc.pid, settings.calls_log))
    for agi in out:
        if not wait_for(lambda a=agi: tcp_open(rig, a.host, AGI_PORT), 30.0, 0.2):
            raise RuntimeError(f"{agi.name} did not start; see {rig.dir}/{agi.name}.log")
    return out
