"""CPU seconds of the stack's processes, from /proc/PID/stat of the pid files in run/.

Why /proc and not psutil: the stack records its pids (ivr.deploy.procs) and the kernel's
utime+stime (plus reaped children) is exactly what a per-call CPU figure needs. A snapshot
before and after a load run gives each component's CPU seconds for that run.
"""

from __future__ import annotations

import os
from pathlib import Path

from ivr.deploy import procs

TICKS = os.sysconf("SC_CLK_TCK")
COMPONENTS = ("asterisk", "agi", "redis")


def cpu_seconds(pid: int) -> float | None:
    """utime+stime+cutime+cstime of a live process, in seconds (None when gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime..cstime are fields 14..17
    return sum(int(fields[i]) for i in range(11, 15)) / TICKS


def snapshot(run_dir: Path) -> dict[str, float]:
    """CPU seconds so far of each running stack component."""
    out: dict[str, float] = {}
    for name in COMPONENTS:
        pid = procs.running_pid(name, run_dir=run_dir)
        if pid is not None and (cpu := cpu_seconds(pid)) is not None:
            out[name] = cpu
    return out


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after if k in before}
