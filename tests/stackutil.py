"""Start and stop real stacks for tests: the real `ivrctl` on free ports in a temp state dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.ports import free_port

IVRCTL = [sys.executable, "-m", "ivr.cli"]
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, state_dir: Path, **extra: str) -> Stack:
        env = dict(os.environ)
        taken: set[int] = set()  # six distinct ports
        env.update(
            {
                "IVR_STATE_DIR": str(state_dir),
                "IVR_SIP_PORT": str(free_port(taken)),
                "IVR_AGI_PORT": str(free_port(taken)),
                "IVR_AMI_PORT": str(free_port(taken)),
                "IVR_REDIS_PORT": str(free_port(taken)),
                "IVR_METRICS_PORT": str(free_port(taken)),
                "IVR_ASTERISK_HTTP_PORT": str(free_port(taken)),
                "IVR_API_PORT": str(free_port(taken)),
            }
        )
        env.pop("IVR_REDIS_URL", None)
        env.pop("IVR_DATABASE_URL", None)
        env.update(extra)
        return cls(state_dir, env)

    @property
    def sip_port(self) -> int:
        return int(self.env["IVR_SIP_PORT"])

    @property
    def calls_log(self) -> Path:
        return self.state_dir / "logs" / "calls.jsonl"

    def ivrctl(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*IVRCTL, *args],
            env=self.env,
            cwd=REPO,
            text=True,
            capture_output=True,
            timeout=timeout,
            input=stdin,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ivrctl {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def pids(self) -> dict[str, int]:
        run = self.state_dir / "run"
        return (
            {p.stem: int(p.read_text().split()[0]) for p in run.glob("*.pid")}
            if run.exists()
            else {}
        )

    def wait_for_line(self, match, timeout_s: float = 15.0) -> dict:
        """The first call-log line for which match(line) holds, waiting for it to be written."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.calls_log.exists():
                for raw in self.calls_log.read_text().splitlines():
                    line = json.loads(raw)
                    if match(line):
                        return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching call-log line within {timeout_s}s")
            time.sleep(0.05)  # polling a file another process appends to

    def up(self) -> None:
        self.ivrctl("stack", "up")

    def down(self) -> None:
        self.ivrctl("stack", "down")

    async def ami(self, **options: Any) -> Any:
        """A connected panoramisk Manager on this stack's AMI (user `ivr`); close() it."""
        from panoramisk import Manager  # noqa: PLC0415 (only the tests that use AMI)

        manager = Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=int(self.env["IVR_AMI_PORT"]),
            username="ivr",
            secret=(self.state_dir / "ami-secret").read_text().strip(),
            reconnect_timeout=0,
            **options,
        )
        await asyncio.wait_for(manager.connect(), 10)
        return manager


@contextlib.contextmanager
def running(state_dir: Path, subscribers: str | None = None, **env: str) -> Iterator[Stack]:
    """`stack up` on free ports with `env`, the subscribers' CSV text imported; then down."""
    s = Stack.new(state_dir, **env)
    try:
        s.up()
        if subscribers is not None:
            csv = state_dir.with_name(state_dir.name + "-subscribers.csv")
            csv.write_text(subscribers)
            s.ivrctl("subscribers", "import", str(csv))
        yield s
    finally:
        s.down()


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def mounts_under(*paths: Path) -> list[str]:
    text = Path("/proc/mounts").read_text()
    return [line for line in text.splitlines() if any(str(p) in line for p in paths)]
