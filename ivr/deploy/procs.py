"""Background processes of a stack, recorded by process id and start time.

The pid file holds "<pid> <start time in clock ticks>", so `stack down` stops exactly the
process it started, never another that reused the pid. (An environment marker would not do:
redis-server's process title overwrites its environment block.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def start(
    name: str,
    argv: list[str],
    *,
    run_dir: Path,
    log: Path,
    env: dict[str, str] | None = None,
) -> int:
    """Start argv detached (own session), output to log; record and return its pid.

    env: the child's whole environment (None: this process's)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=env,
        )
    pid_file(run_dir, name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    return proc.pid


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def running_pid(name: str, *, run_dir: Path) -> int | None:
    """The recorded pid when that process is alive and ours, else None."""
    try:
        pid_text, started = pid_file(run_dir, name).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if _is_zombie(pid) or _start_time(pid) != started:
        return None
    return pid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(name: str, *, run_dir: Path, grace_s: float = 10.0) -> bool:
    """SIGTERM the recorded process, SIGKILL after grace_s; True when one was stopped."""
    pid = running_pid(name, run_dir=run_dir)
    stopped = False
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: _gone(pid), grace_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: _gone(pid), 5.0)
        stopped = True
    pid_file(run_dir, name).unlink(missing_ok=True)
    return stopped


def terminate(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """A child we started ourselves: SIGTERM, SIGKILL after grace_s, always reaped."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _gone(pid: int) -> bool:
    _reap(pid)
    return _is_zombie(pid)


def wait_for(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll condition until true or timeout; the one place the stack waits on the outside."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
