"""Private servers for the store tests: a durable redis-server and, if needed, PostgreSQL."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis

from ivr.deploy.stack import durable_redis_argv
from loadgen.ports import free_port

START_TIMEOUT_S = 20.0


def wait_until(condition, timeout_s: float = START_TIMEOUT_S, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll a condition until it holds (servers give no other readiness signal)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RedisServer:
    """redis-server on a free port, appendonly yes + appendfsync always, data in `dir`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = durable_redis_argv(self.port, self.dir, str(self.dir / "redis.log"))
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._ready, what=f"redis on port {self.port}")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()}")
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            return False
        finally:
            client.close()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            self.proc = None


def _pg_bin(name: str) -> str:
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    for candidate in [f"/usr/local/bin/{name}", *versions]:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"no {name} for a private PostgreSQL")
    return found


def _pg_answers(conninfo: str) -> bool:
    try:
        with psycopg.connect(conninfo, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """initdb + pg_ctl on a free port; yields conninfo.

    As root, PostgreSQL runs as user postgres in a directory of its own under /tmp (pytest's
    tmp dirs are root-only, and initdb refuses to run as root).
    """
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-store-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = tmp / "data"
    pg_ctl = _pg_bin("pg_ctl")
    try:
        subprocess.run(
            [
                *prefix,
                _pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "-l",
                str(tmp / "pg.log"),
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
        try:
            yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        finally:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A uniquely named database for this session (dropped after); yields an SQLAlchemy URL.

    The machine's PostgreSQL when it answers, else a private one (IVR_TEST_POSTGRES=private
    forces the private one, to test this path).
    """
    machine = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    use_machine = os.environ.get("IVR_TEST_POSTGRES") != "private" and _pg_answers(machine)
    with contextlib.ExitStack() as stack:
        admin = machine if use_machine else stack.enter_context(private_postgres())
        name = f"ivr_store_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = dict(item.split("=", 1) for item in admin.split())
        try:
            yield f"postgresql://postgres@{params['host']}:{params['port']}/{name}"
        finally:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
