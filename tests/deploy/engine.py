"""A Docker engine a test owns, and docker-compose projects on it.

The engine (Debian's docker.io) gets its own data root, exec root, pid file and socket in a
temp dir, no iptables and no default bridge (the compose files use the host network), and is
stopped by its pid. Images are built into it by scripts/build-images.sh from the root file
systems cached in $IVR_CACHE_DIR/images.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.stackutil import REPO, alive

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
# Debian's client matches the engine it ships with.
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"


def wait_until(check: Callable[[], object], timeout_s: float, what: str, step_s: float = 0.5):
    """check()'s first truthy value, polled until timeout_s (then AssertionError naming what)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(step_s)  # the engine or a container changes state on its own


def run(argv: list[str], env: dict[str, str], *, check: bool, timeout: float,
        stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    """argv's run; with check, a failure is an AssertionError with its output."""
    done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, input=stdin)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {done.returncode}\n"
                             f"{done.stdout.decode(errors='replace')}\n"
                             f"{done.stderr.decode(errors='replace')}")  # fmt: skip
    return done


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line holds text (the engine's own dirs: its containerd, shims)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(int(proc.name))
    return found


@dataclass
class Engine:
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    build_s: float = 0.0

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"})
        return env

    @classmethod
    def start(cls, timeout_s: float = 60) -> Engine:
        # short paths: unix sockets under the exec root must stay below 108 bytes
        engine = cls(Path(tempfile.mkdtemp(prefix="ivr-dk-", dir="/tmp")))
        argv = [
            DOCKERD,
            f"--data-root={engine.root}/data",
            f"--exec-root={engine.root}/x",
            f"--pidfile={engine.root}/dockerd.pid",
            f"-H={engine.host}",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--bridge=none",
        ]
        with open(engine.root / "dockerd.log", "wb") as log:
            engine.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_until(lambda: engine.docker("info", check=False).returncode == 0 or
                       engine.proc.poll() is not None, timeout_s, "dockerd answers")  # fmt: skip
            if engine.proc.poll() is not None:
                raise AssertionError(engine.log_tail())
        except BaseException:
            engine.stop()
            raise
        return engine

    def log_tail(self, lines: int = 30) -> str:
        text = (self.root / "dockerd.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: bytes | None = None
    ):
        return run([DOCKER, *args], self.env, check=check, timeout=timeout, stdin=stdin)

    def build_images(self, timeout_s: float = 1200) -> str:
        """scripts/build-images.sh into this engine (roots from the cache); its report."""
        start = time.monotonic()
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-images.sh")],
            env={**self.env, "IVR_IMAGE_TAG": "test"},
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        self.build_s = time.monotonic() - start
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def inspect(self, ref: str) -> dict:
        return json.loads(self.docker("inspect", ref).stdout)[0]

    def stop(self, timeout_s: float = 60) -> None:
        """SIGTERM by pid (dockerd stops its containerd), SIGKILL after timeout_s; the temp dir
        is removed once nothing of the engine runs or is mounted there."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        left = [p for p in processes_mentioning(str(self.root)) if alive(p)]
        for pid in left:  # only what this engine started (its dirs are in the command line)
            os.kill(pid, signal.SIGKILL)
        # dockerd leaves its host namespace's bind mount (exec root's netns/default) behind
        for point in reversed(self.mounts()):
            subprocess.run(["umount", point], check=False, timeout=30)
        assert not left and not self.mounts(), (left, self.mounts())
        shutil.rmtree(self.root, ignore_errors=True)

    def mounts(self) -> list[str]:
        lines = Path("/proc/mounts").read_text().splitlines()
        return [line.split()[1] for line in lines if str(self.root) in line.split()[1]]


@dataclass
class Project:
    """One docker-compose project (a unique name) of a compose file on an Engine."""

    engine: Engine
    name: str
    file: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, check: bool = True, timeout: float = 180,
                 stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        argv = [COMPOSE, "-p", self.name, "-f", str(self.file), *args]
        env = {**self.engine.env, "IVR_IMAGE_TAG": "test", **self.env}
        return run(argv, env, check=check, timeout=timeout, stdin=stdin)

    def container(self, service: str) -> str:
        return self("ps", "-q", service).stdout.decode().strip()

    def state(self, service: str) -> dict:
        return self.engine.inspect(self.container(service))["State"]

    def healthy(self, *services: str, timeout_s: float = 120) -> None:
        for service in services:
            ref = self.container(service)  # once: each docker-compose run costs CPU
            wait_until(
                lambda r=ref: (
                    self.engine.inspect(r)["State"].get("Health", {}).get("Status") == "healthy"
                ),
                timeout_s,
                f"{service} healthy",
            )

    def tools(self, *args: str, stdin: bytes | None = None, volume: str | None = None,
              check: bool = True) -> str:  # fmt: skip
        """An ivrctl command in a container of its own (the compose file's tools service)."""
        extra = ["-v", volume] if volume else []
        done = self("run", "--rm", "-T", *extra, "tools", *args, stdin=stdin, check=check)
        return done.stdout.decode()

    def pids(self) -> list[int]:
        ids = self("ps", "-q").stdout.decode().split()
        return [self.engine.inspect(i)["State"]["Pid"] for i in ids]
