"""The FastAGI server under test, as the service runs it, and what /proc says about it.

`ivr.service.serve` runs in a child process (so its RSS and CPU are its own) on free ports, with
a temporary state dir (pepper, AGI secret: 0600 from creation), a SQLite directory holding
the callers, and a private Redis configured like the stack's (append-only, fsync always)
unless an external URL is given. Everything started here is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.config.secret_files import private_dir, read_or_create
from ivr.config.settings import Settings
from ivr.deploy import probes
from ivr.deploy.procs import wait_for
from ivr.deploy.stack import durable_redis_argv
from ivr.tools import testrange
from loadgen.ports import free_port
from store.kdf import Argon2idParams, derive, new_salt
from store.pepper import load_or_create

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 30.0


@dataclass
class Rig:
    pid: int
    agi_port: int
    secret: str = ""
    settings: Settings | None = None

    @property
    def calls_log(self) -> Path:
        assert self.settings is not None
        return self.settings.calls_log


def raise_open_files(needed: int) -> None:
    """Both ends of every call live on this machine: lift the soft limit if it is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        top = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _ready(proc: subprocess.Popen[bytes], check: Callable[[], bool], what: str, log: Path) -> None:
    if not wait_for(lambda: proc.poll() is not None or check(), START_TIMEOUT_S, 0.02):
        raise RuntimeError(f"{what} not ready within {START_TIMEOUT_S} s; see {log}")
    if proc.poll() is not None:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise RuntimeError(f"{what} exited: " + " | ".join(tail))


@contextlib.contextmanager
def running_server(
    numbers: Sequence[str],
    *,
    calls: int,
    redis_url: str | None = None,
    profile: Path | None = None,
    module: str = "ivr.service.serve",
) -> Iterator[Rig]:
    """The real server with `numbers` imported, sized for `calls` at once; with `profile`,
    under cProfile (its event loop thread), the stats written there when it stops.
    module: what runs it (benchmarks.serve_light_kdf: the same server, a negligible KDF)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-fastagi-"))  # 0700
    procs: list[subprocess.Popen[bytes]] = []
    redis: subprocess.Popen[bytes] | None = None
    settings: Settings | None = None
    try:
        if redis_url is None:
            port = free_port()
            data = private_dir(tmp / "redis")
            redis = _start(durable_redis_argv(port, data), dict(os.environ), tmp / "redis.log")
            procs.append(redis)
            _ready(redis, lambda: probes.tcp_accepts("127.0.0.1", port), "redis", tmp / "redis.log")
            redis_url = f"redis://127.0.0.1:{port}/0"
        agi_port = free_port()
        env = dict(os.environ)
        env.pop("IVR_DATABASE_URL", None)
        env.update(
            IVR_STATE_DIR=str(tmp / "state"),
            IVR_REDIS_URL=redis_url,
            IVR_AGI_HOST="127.0.0.1",
            IVR_AGI_PORT=str(agi_port),
            IVR_METRICS_HOST="127.0.0.1",
            IVR_METRICS_PORT=str(free_port()),
            IVR_MAX_CALLS=str(calls),
            IVR_MAX_CALLS_PER_S="0",  # the ramp connects faster than production admits
            IVR_AGI_MAX_CALLS=str(2 * calls + 10),  # each call's call-end script too
            IVR_AGI_COMMAND_S="900",  # calls wait at their first Read while the rest connect
            IVR_MAX_CALL_S="1200",
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
        )
        settings = Settings.from_env(env)
        private_dir(settings.state_dir)
        load_or_create(settings.pepper_file)
        secret = read_or_create(settings.agi_secret_path)
        testrange.import_numbers(settings, numbers)
        log = tmp / "serve.log"
        wrap = ["-m", "cProfile", "-o", str(profile.absolute())] if profile else []
        server = _start([sys.executable, *wrap, "-m", module, "--quiet"], env, log)
        procs.append(server)
        health = lambda: probes.http_status(  # noqa: E731
            settings.metrics_host, settings.metrics_port, "/healthz"
        )
        _ready(server, lambda: health() == 200, "ivr.service.serve", log)
        yield Rig(server.pid, agi_port, secret, settings)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if settings is not None and redis is None:  # an external Redis: remove our numbers
            with contextlib.suppress(Exception):
                testrange.remove_numbers(settings, numbers)
        shutil.rmtree(tmp, ignore_errors=True)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def thread_cpu(pid: int) -> dict[int, tuple[float, int]]:
    """Each thread's utime+stime (seconds) and nice value; the event loop's tid is pid."""
    out: dict[int, tuple[float, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = ((int(fields[11]) + int(fields[12])) / TICKS, int(fields[16]))
    return out


def split_cpu(
    before: dict[int, tuple[float, int]], after: dict[int, tuple[float, int]], pid: int
) -> tuple[float, float, float]:
    """CPU seconds between two snapshots: (event loop, other threads, threads niced below the
    loop). The server runs its derivations, and nothing else, on such threads
    (store.kdf's pool, nice +10); a server without them shows 0 there."""
    loop = after[pid][0] - before.get(pid, (0.0, 0))[0]
    others = niced = 0.0
    for tid, (cpu, nice) in after.items():
        spent = cpu - before.get(tid, (0.0, 0))[0]
        if tid == pid:
            continue
        if nice > after[pid][1]:
            niced += spent
        else:
            others += spent
    return loop, others, niced


def kdf_cpu_s(params: Argon2idParams, runs: int = 5) -> float:
    """CPU of one derivation (median) in this thread, alone: what each set costs at least."""
    salt, pepper = new_salt(), os.urandom(32)
    times = []
    for _ in range(runs):
        start = time.thread_time()
        derive("00000000", salt, pepper, params)
        times.append(time.thread_time() - start)
    return statistics.median(times)
