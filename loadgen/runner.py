"""Run one SIPp for a whole load: N calls at R per second from a caller CSV, then parse it.

SIPp runs in the foreground (``-nostdin``), is waited for with ``os.wait4`` (its own CPU
seconds come from the kernel's accounting of the child) and is killed by its pid if it
outlives the run's bound. While it runs, ``progress`` is called about once a second with
what SIPp's statistics file (``-trace_stat``) says so far.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loadgen.inband import write_inband_pcap
from loadgen.ports import release_ports, reserve_ports
from loadgen.rtp_pcap import KeyPress, write_keys_pcap
from loadgen.scenario import MARK, callers_csv, load_scenario
from loadgen.sipp import sipp_command
from loadgen.uac import INFO_TYPES, info_steps


@dataclass
class CallTimes:
    """One call's milestones in seconds since SIPp started (None: never reached)."""

    caller: str
    start: float | None = None
    answered: float | None = None
    end: float | None = None
    refused: int | None = None


@dataclass
class SippRun:
    """What one SIPp run reported."""

    exit_code: int | None
    killed: bool
    cpu_s: float
    elapsed_s: float
    stats: dict[str, str] = field(default_factory=dict)
    calls: dict[str, CallTimes] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path)
    errors_tail: str = ""

    def stat(self, name: str) -> int:
        try:
            return int(float(self.stats.get(name, "0") or 0))
        except ValueError:
            return 0

    def peak_concurrent(self) -> int:
        """Most calls in progress at once, from each call's START and END/REFUSED ticks."""
        edges: list[tuple[float, int]] = []
        for c in self.calls.values():
            if c.start is None:
                continue
            edges.append((c.start, 1))
            stop = c.end if c.end is not None else c.answered
            if stop is not None:
                edges.append((stop, -1))
        peak = now = 0
        for _, d in sorted(edges, key=lambda e: (e[0], e[1])):
            now += d
            peak = max(peak, now)
        return peak


_LINE = re.compile(rf"{MARK} (START|ANSWERED|END|REFUSED (\d+)) \d+ (\S+) (\d+)")


def parse_actions(text: str) -> dict[str, CallTimes]:
    """The scenario's milestone lines, by caller."""
    calls: dict[str, CallTimes] = {}
    for m in _LINE.finditer(text):
        what, status, caller, tick = m.group(1), m.group(2), m.group(3), int(m.group(4)) / 1000
        c = calls.setdefault(caller, CallTimes(caller))
        if what == "START":
            c.start = tick
        elif what == "ANSWERED":
            c.answered = tick
        elif what == "END":
            c.end = tick
        else:
            c.refused, c.end = int(status), tick
    return calls


def read_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` CSV (``;``-separated, header first)."""
    try:
        rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
    except FileNotFoundError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def run_load(
    *,
    callers: Sequence[str],
    rate: float,
    did: str,
    sip_host: str,
    sip_port: int,
    schedule: Sequence[KeyPress],
    workdir: Path,
    call_timeout_s: float = 120.0,
    progress: Callable[[dict[str, str], float], None] | None = None,
    keys_as: str = "rfc4733",
    tone_ms: int = 70,
) -> SippRun:
    """Place ``len(callers)`` calls at ``rate`` per second; returns when SIPp has exited.

    ``keys_as``: ``rfc4733`` events, ``inband`` μ-law tones of ``tone_ms`` (no
    telephone-event offered) or an INFO type of loadgen.uac (RTP then carries silence)."""
    if not callers:
        raise ValueError("no callers")
    if rate <= 0:
        raise ValueError("rate must be above 0")
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = workdir / "keys.pcap"
    if keys_as == "inband":
        write_inband_pcap(pcap, schedule, tone_ms=tone_ms)
    else:
        write_keys_pcap(pcap, schedule if keys_as == "rfc4733" else ())
    info = info_steps(keys_as, schedule) if keys_as in INFO_TYPES else ()
    scenario = workdir / "load.xml"
    scenario.write_text(
        load_scenario(
            did, sip_host, sip_port, pcap, call_timeout_s=call_timeout_s,
            events=keys_as == "rfc4733", info=info,
        )
    )  # fmt: skip
    (workdir / "callers.csv").write_text(callers_csv(callers))
    stat_file = workdir / "stats.csv"
    ports = reserve_ports(1) + reserve_ports(4, even=True)
    bound_s = len(callers) / rate + call_timeout_s + 60
    cmd = sipp_command(
        scenario, sip_host, sip_port,
        local_port=ports[0], media_port=ports[1], timeout_s=bound_s, workdir=workdir,
        calls=len(callers), trace_messages=False, extra_flags=["-trace_stat"],
        extra=[
            ("-inf", workdir / "callers.csv"), ("-r", f"{rate:g}"), ("-rp", 1000),
            ("-stf", stat_file), ("-fd", 1),
            ("-max_recv_loops", 10000), ("-max_sched_loops", 10000),
        ],
    )  # fmt: skip
    started = time.monotonic()
    killed = False
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(workdir / "sipp.stderr", "wb"),  # noqa: SIM115 (closed with the child)
    )  # fmt: skip
    status, usage = 0, None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > bound_s + 10:
                killed = True
                os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            if progress is not None:
                progress(read_stats(stat_file), time.monotonic() - started)
            time.sleep(1.0)  # the stats file is written once a second
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ChildProcessError):
                proc.returncode = os.waitstatus_to_exitcode(status)
        release_ports(ports)
    errors = ""
    with contextlib.suppress(FileNotFoundError):
        errors = (workdir / "errors.log").read_text(errors="replace")[-2000:]
    actions = ""
    with contextlib.suppress(FileNotFoundError):
        actions = (workdir / "actions.log").read_text(errors="replace")
    return SippRun(
        exit_code=None if killed else proc.returncode,
        killed=killed,
        cpu_s=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
        elapsed_s=time.monotonic() - started,
        stats=read_stats(stat_file),
        calls=parse_actions(actions),
        workdir=workdir,
        errors_tail=errors,
    )
