"""`ivrctl load`: N full dial-ins at R per second through SIPp, then a report operators size by.

Each call comes from its own subscriber of the reserved test range (ivr.tools.testrange),
imported before and removed after (`--keep` leaves them), keys unit 1 and one 8-digit
password twice as RFC 4733 events, and must end `set`; the password is then checked through
the store (the web site's login check) for every call. The password is random per run and
never printed. CPU seconds come from /proc of the stack's pid files (local stack only).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
import wave
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.config.settings import Settings
from ivr.tools import cpu, plan, testrange
from ivr.tools.plan import DEFAULT_DID, ENTRY_GAP_S
from loadgen.runner import SippRun, run_load
from sounds import render as sounds


def parse_target(text: str | None, settings: Settings) -> tuple[str, int, bool]:
    """(host, port, local): the local stack unless --target names another address."""
    if not text:
        return settings.sip_host, settings.sip_port, True
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--target must be HOST:PORT, not {text!r}")
    local = (host, int(port)) == (settings.sip_host, settings.sip_port)
    return host, int(port), local


def log_records(path: Path, offset: int) -> Iterator[dict[str, Any]]:
    """The call log's JSON records written after ``offset`` (a line cut short is skipped)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return
    for raw in data.splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield rec


def read_log(path: Path, offset: int, callers: set[str]) -> dict[str, dict[str, Any]]:
    """`call.end` records of these callers written after ``offset``, by caller."""
    return {
        rec["caller"]: rec
        for rec in log_records(path, offset)
        if rec.get("event") == "call.end" and rec.get("caller") in callers
    }


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def goodbye_seconds(cache_dir: Path, target: str) -> float | None:
    """Length of the completion message: the target read back, then tpw/done."""
    base = sounds.sounds_dir(cache_dir)
    try:
        return sum(wav_seconds(base / "digits" / f"{d}.wav") for d in target) + wav_seconds(
            base / "tpw" / "done.wav"
        )
    except (FileNotFoundError, wave.Error):
        return None


@dataclass
class Progress:
    """The live line: SIPp's counters and the call log's `set` count."""

    log: Path
    offset: int
    callers: set[str]
    total: int
    tty: bool
    last_print: float = 0.0

    def __call__(self, stats: dict[str, str], elapsed: float) -> None:
        if not self.tty and elapsed - self.last_print < 5:
            return
        self.last_print = elapsed
        done = read_log(self.log, self.offset, self.callers)
        n_set = sum(1 for r in done.values() if r.get("outcome") == "set")
        line = (
            f"t={elapsed:5.0f}s offered {stats.get('OutgoingCall(C)', '0')}/{self.total}"
            f"  in progress {stats.get('CurrentCall', '0')}"
            f"  ended {len(done)}  set {n_set}"
            f"  sipp ok {stats.get('SuccessfulCall(C)', '0')}"
            f" failed {stats.get('FailedCall(C)', '0')}"
        )
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr)
        sys.stderr.flush()


def _dist(values: list[float], unit: str = "s") -> str:
    if not values:
        return "n/a"
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"p50 {statistics.median(v):.2f}{unit}  p95 {p95:.2f}{unit}  max {v[-1]:.2f}{unit}"


@dataclass
class LoadResult:
    """One load run: what SIPp saw, the call log's ends, the store's verdicts, CPU seconds."""

    calls: int
    rate: float
    run: SippRun
    ends: dict[str, dict[str, Any]]
    verified: dict[str, str] | None  # None: the store was not asked (a reference dialplan)
    cpu_used: dict[str, float] | None  # None: a remote target
    last_key_s: float
    goodbye: dict[str, float | None]

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(str(r.get("outcome")) for r in self.ends.values())

    @property
    def admitted_not_set(self) -> int:
        """Answered calls that did not set a password: what load must never cause."""
        answered = {c for c, t in self.run.calls.items() if t.answered is not None}
        return sum(1 for c in answered if self.ends.get(c, {}).get("outcome") != "set")

    @property
    def all_set(self) -> bool:
        n_ok = sum(1 for v in (self.verified or {}).values() if v == "ok")
        return self.outcomes.get("set", 0) == self.calls and (
            self.verified is None or n_ok == self.calls
        )

    def completion_delays(self) -> list[float]:
        """Seconds from each answered call's last key to its completion prompt: what the
        caller waits in silence (BYE − answer − keys − the prompt's own length)."""
        return [
            (c.end - c.answered) - self.last_key_s - g
            for c in self.run.calls.values()
            if c.end and c.answered and c.refused is None
            and (g := self.goodbye.get(c.caller)) is not None
        ]  # fmt: skip

    def cpu_ms_per_call(self) -> dict[str, float]:
        calls = max(1, len(self.run.calls))
        parts = {**(self.cpu_used or {}), "sipp": self.run.cpu_s}
        return {k: 1000 * v / calls for k, v in parts.items()}


def report(r: LoadResult) -> list[str]:
    """The report's lines."""
    run, n = r.run, r.calls
    refusals = Counter(c.refused for c in run.calls.values() if c.refused is not None)
    lengths = [c.end - c.start for c in run.calls.values() if c.end and c.start is not None]
    to_done = r.completion_delays()
    n_ok = sum(1 for v in (r.verified or {}).values() if v == "ok")
    answered = sum(1 for c in run.calls.values() if c.answered is not None)
    lines = [
        f"load: {n} calls offered at {r.rate:g}/s, entries {r.last_key_s:.2f} s of keys"
        f"  (SIPp exit {run.exit_code},"
        f" {run.elapsed_s:.1f} s{', KILLED' if run.killed else ''})",
        f"  offered      {len(run.calls)}   completed (SIPp) {run.stat('SuccessfulCall(C)')}"
        f"   failed (SIPp) {run.stat('FailedCall(C)')}",
        f"  set          {r.outcomes.get('set', 0)}/{n}   verified {n_ok}/{n}"
        + ("" if r.verified is not None else " (store not checked)"),
        f"  admitted     {answered} answered, {r.admitted_not_set} of them without a password set",
        "  outcomes     "
        + (", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())) or "(no call log)"),
        "  refusals     "
        + (", ".join(f"SIP {k}: {v}" for k, v in sorted(refusals.items())) or "none"),
        f"  call length  {_dist(lengths)}  (INVITE to BYE, SIPp)",
        f"  last key → completion prompt  {_dist(to_done)}  (BYE − keys − prompt length)",
        f"  peak concurrent calls  {run.peak_concurrent()}",
    ]
    per_call = r.cpu_ms_per_call()
    if r.cpu_used is not None:
        totals = {**r.cpu_used, "sipp": run.cpu_s}
        lines.append(
            "  CPU per call "
            + "  ".join(f"{k} {v:.1f} ms" for k, v in per_call.items())
            + f"  (total s: {', '.join(f'{k} {v:.1f}' for k, v in totals.items())})"
        )
    else:
        lines.append(f"  CPU per call sipp {per_call['sipp']:.1f} ms (remote target)")
    if r.all_set:
        verdict = "PASS"
    elif r.admitted_not_set == 0:
        verdict = "FAIL (every answered call set its password; the rest were refused)"
    else:
        verdict = "FAIL"
    lines.append(f"result: {verdict}")
    return lines


def measure(
    settings: Settings,
    *,
    calls: int,
    rate: float,
    did: str = DEFAULT_DID,
    target: str | None = None,
    entry_gap: float = ENTRY_GAP_S,
    keep: bool = False,
    verify: bool = True,
) -> LoadResult:
    """Import the callers, place the calls, gather the call log, check passwords, clean up.

    verify=False: the store is not asked (a reference dialplan that sets no password)."""
    if not 1 <= calls <= 99_990 or rate <= 0:  # the range's last 10: demo numbers
        raise ValueError("--calls must be 1-99990 and --rate above 0")
    if not 0.5 <= entry_gap <= 30:
        raise ValueError("--entry-gap must be 0.5-30 seconds")
    host, port, local = parse_target(target, settings)
    callers = plan.test_numbers(calls)
    password = "".join(secrets.choice("0123456789") for _ in range(8))
    keys = plan.load_schedule(password, gap_s=entry_gap)
    testrange.remove_numbers(settings, callers)  # leftovers of a killed run: start clean
    testrange.import_numbers(settings, callers)
    log = settings.calls_log
    offset = log.stat().st_size if log.exists() else 0
    verified = None
    try:
        before = cpu.snapshot(settings.state_dir / "run") if local else None
        with tempfile.TemporaryDirectory(prefix="ivr-load-") as work:
            tty = sys.stderr.isatty()
            run = run_load(
                callers=callers, rate=rate, did=did, sip_host=host, sip_port=port,
                schedule=keys, workdir=Path(work),
                progress=Progress(log, offset, set(callers), calls, tty),
            )  # fmt: skip
            if tty:
                print(file=sys.stderr)
        cpu_used = cpu.delta(before, cpu.snapshot(settings.state_dir / "run")) if local else None
        started = {c for c, t in run.calls.items() if t.start is not None}
        deadline = time.monotonic() + 15
        while True:  # the last call.end lines follow the last BYEs closely
            ends = read_log(log, offset, set(callers))
            if started <= set(ends) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if verify:
            verified = testrange.verify_all(settings, dict.fromkeys(callers, password))
    finally:
        if not keep:
            testrange.remove_numbers(settings, callers)
    return LoadResult(
        calls=calls, rate=rate, run=run, ends=ends, verified=verified, cpu_used=cpu_used,
        last_key_s=keys[-1].at_s,
        goodbye={c: goodbye_seconds(settings.cache_dir, c) for c in callers},
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    result = measure(
        settings, calls=args.calls, rate=args.rate, did=args.did, target=args.target,
        entry_gap=args.entry_gap, keep=args.keep,
    )  # fmt: skip
    lines = report(result)
    if args.keep:
        callers = plan.test_numbers(args.calls)
        lines.append(f"kept test subscribers {callers[0]}-{callers[-1]} (reserved test range)")
    print("\n".join(lines))
    return 0 if result.all_set else 1
