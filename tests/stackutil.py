"""Start and stop real stacks for tests: the real `ivrctl` on free ports in a temp state dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow.calllog import CallEnd, CallLogReader, CallStrike, LogLine, read_lines

IVRCTL = [sys.executable, "-m", "ivr.cli"]
REPO = Path(__file__).resolve().parents[1]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP right now (the kernel picks it)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class Stack:
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, state_dir: Path, **extra: str) -> Stack:
        env = dict(os.environ)
        env.update(
            {
                "IVR_STATE_DIR": str(state_dir),
                "IVR_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
                "IVR_AGI_PORT": str(free_port()),
                "IVR_AMI_PORT": str(free_port()),
                "IVR_REDIS_PORT": str(free_port()),
                "IVR_METRICS_PORT": str(free_port()),
                "IVR_ASTERISK_HTTP_PORT": str(free_port()),
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

    def wait_for_line(self, match: Callable[[LogLine], object], timeout_s: float = 15.0) -> LogLine:
        """The first call-log line for which match(line) holds, waiting for it to be written."""
        _, found = CallLogReader(self.calls_log).until(match, timeout_s)
        if found is None:
            raise AssertionError(f"no matching call-log line within {timeout_s}s")
        return found

    def log_lines(self) -> list[LogLine]:
        """Every line of the call log so far, parsed."""
        return read_lines(self.calls_log)[0]

    def up(self) -> None:
        self.ivrctl("stack", "up")

    def down(self) -> None:
        self.ivrctl("stack", "down")


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


def ends_and_strikes(lines: list[LogLine], caller: str) -> tuple[list[CallEnd], list[CallStrike]]:
    """This caller's call.end records, and the call.strike records of the first such call."""
    ends = [e.end for e in lines if e.end is not None and e.end.caller == caller]
    first = ends[0].call_id if ends else None
    return ends, [e.strike for e in lines if e.strike is not None and e.strike.call_id == first]
