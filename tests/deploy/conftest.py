"""One Docker engine for the deployment tests, with the images built into it once."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from loadgen.sipp import CallSpec, run_call
from tests.deploy.engine import Engine, Project, wait_until
from tests.e2e.test_calls import full
from tests.stackutil import REPO, free_port

DOCKER = REPO / "docker"


@pytest.fixture(scope="session")
def engine():
    # The files the tests write are read by the containers' own users: a umask of 077 left by
    # a test that started a stack in this process (ivr.deploy.stack.up) would hide them.
    umask = os.umask(0o022)
    e = Engine.start()
    try:
        report = e.build_images()
        print(f"\nimages built in {e.build_s:.1f} s:\n{report}", file=sys.stderr)
        yield e
    finally:
        e.stop()
        os.umask(umask)


def new_project(engine: Engine, tmp: Path, file: str, ports: list[str], udp: list[str]) -> Project:
    """A project of a compose file on free ports, with secrets made by make-secrets.sh."""
    made = subprocess.run(["bash", str(REPO / "scripts" / "make-secrets.sh"), str(tmp / "secrets")],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert made.returncode == 0, made.stderr
    taken: set[int] = set()  # every port distinct, each free for TCP and UDP
    env = {name: str(free_port(taken)) for name in [*ports, *udp]}
    env.update({"IVR_SECRETS_DIR": str(tmp / "secrets"), "IVR_PROMETHEUS_INTERVAL": "2s"})
    return Project(engine, f"ivrtest{secrets.token_hex(4)}", DOCKER / file, env)


def import_subscribers(project: Project, tmp: Path, numbers: list[str]) -> None:
    folder = tmp / "import"
    folder.mkdir(exist_ok=True)
    (folder / "s.csv").write_text(
        "contract_number,number\n" + "".join(f"{n},{n}\n" for n in numbers)
    )
    out = project.tools("subscribers", "import", "/import/s.csv", volume=f"{folder}:/import:ro")
    assert f"imported {len(numbers)} numbers" in out


def call(port: int, caller: str, password: str, workdir: Path):
    """One full dial-in (unit 1, the password twice) from caller; SIPp's outcome."""
    spec = CallSpec(did="0664806430", caller_from=caller, schedule=full("1", password),
                    timeout_s=60)  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run_call(spec, "127.0.0.1", port, workdir))


def verify(project: Project, number: str, password: str) -> str:
    """The web site's check, from a container of its own with the store library."""
    out = project.tools("tpw", "verify", number, "-", stdin=f"{password}\n".encode(), check=False)
    return out.strip()  # ok, wrong, none, ... (exit 1 unless ok)


def prometheus(port: int, expr: str) -> dict[str, float]:
    """{instance: value} of an instant PromQL query (empty when Prometheus does not answer)."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            result = json.load(reply)["data"]["result"]
    except OSError:
        return {}
    return {r["metric"].get("instance", ""): float(r["value"][1]) for r in result}


def alerts(port: int) -> set[tuple[str, str]]:
    """(alertname, instance) of every alert Alertmanager holds now (its API v2)."""
    url = f"http://127.0.0.1:{port}/api/v2/alerts"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = json.load(reply)
    except OSError:
        return set()
    return {(a["labels"]["alertname"], a["labels"].get("instance", "")) for a in body}


def wait_for_alerts(port: int, names: set[str], timeout_s: float = 120) -> set[tuple[str, str]]:
    def all_there() -> set[tuple[str, str]] | None:
        got = alerts(port)
        return got if names <= {n for n, _ in got} else None

    return wait_until(
        all_there,
        timeout_s,
        f"alerts {sorted(names)} in Alertmanager",
        step_s=1.0,
    )
