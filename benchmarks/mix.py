"""A realistic mix against one stack: units 1/2/3, mistypes, refused, in-band and INFO callers.

Each class (benchmarks.mix_classes) runs as its own SIPp load at its share of the total
rate, all at once, so the stack sees them interleaved as a carrier's traffic would be; unit
2 keys a different target per call and runs one SIPp per call at its share instead. The
subscribers are imported into the reserved test range before and removed after. Afterwards
every class is checked against what it must do (set the right target's password, verified
through the store; a mistype sets after one `mismatch` strike; a refused caller gets 403
and sets nothing) and the table gives, per class and for the whole mix: offered, answered,
set, verified, refusals by status, last key → 完了 p95 and CPU ms per call.
Asterisk, FastAGI and Redis CPU cannot be told apart per class while all run at once: the
mix row has the mix's; with ``--solo-calls N`` each class then runs alone (N calls at the
mix's total rate) for its own figures, the stack's idle CPU over that time taken off.

    .venv/bin/python -m benchmarks.mix --rate 10 --duration 60 --solo-calls 40
    .venv/bin/python -m benchmarks.mix --target 127.0.0.1:5060   # a running stack (IVR_*)
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmarks import mix_classes as mc
from benchmarks.capacity import running_stack
from ivr.config.settings import Settings
from ivr.flow.calllog import CallEnd, read_lines
from ivr.tools import cpu, testrange
from ivr.tools.load import LoadResult, goodbye_seconds, parse_target
from ivr.tools.plan import DEFAULT_DID
from loadgen.runner import SippRun, run_load


def read_calls(path: Path, offset: int, callers: set[str]) -> dict[str, mc.Observed]:
    """Each caller's `call.end` after ``offset``, with its call's strikes as (step, reason)."""
    ends: dict[str, CallEnd] = {}
    strikes: dict[str, list[tuple[str, str]]] = {}
    for line in read_lines(path, offset)[0]:  # the one typed reader (ivr.flow.calllog)
        if (strike := line.strike) is not None:
            strikes.setdefault(strike.call_id, []).append((strike.step, strike.reason))
        elif (end := line.end) is not None and end.caller in callers:
            ends[end.caller] = end
    return {c: mc.Observed(e, tuple(strikes.get(e.call_id, ()))) for c, e in ends.items()}


def _merge(runs: list[tuple[float, SippRun]]) -> SippRun:
    """One SippRun of many (unit 2's one per call), ticks moved onto the mix's clock."""
    out = SippRun(exit_code=0, killed=False, cpu_s=0.0, elapsed_s=0.0)
    for shift, r in runs:
        out.cpu_s += r.cpu_s
        out.killed |= r.killed
        out.exit_code = r.exit_code if r.exit_code else out.exit_code
        out.elapsed_s = max(out.elapsed_s, shift + r.elapsed_s)
        for name in ("SuccessfulCall(C)", "FailedCall(C)"):
            out.stats[name] = str(out.stat(name) + r.stat(name))
        for caller, t in r.calls.items():
            moved = {k: getattr(t, k) for k in ("start", "answered", "end")}
            out.calls[caller] = replace(
                t, **{k: v + shift for k, v in moved.items() if v is not None}
            )
    return out


def run_class(p: mc.ClassPlan, rate: float, did: str, host: str, port: int, work: Path) -> SippRun:
    """The class's calls at ``rate``: one SIPp load, or one SIPp per call when keys differ."""
    common = {"did": did, "sip_host": host, "sip_port": port, "keys_as": p.keys_as}
    common["tone_ms"] = mc.TONE_MS
    if not p.per_call:
        keys = p.keys[p.callers[0]]
        return run_load(callers=p.callers, rate=rate, schedule=keys, workdir=work, **common)
    t0 = time.monotonic()
    runs: list[tuple[float, SippRun]] = []
    lock = threading.Lock()

    def one(i: int, caller: str) -> None:
        shift = time.monotonic() - t0
        r = run_load(callers=[caller], rate=1, schedule=p.keys[caller], workdir=work / str(i),
                     **common)  # fmt: skip
        with lock:
            runs.append((shift, r))

    with ThreadPoolExecutor(max_workers=len(p.callers)) as pool:
        for i, caller in enumerate(p.callers):
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))  # the arrival pace
            pool.submit(one, i, caller)
    return _merge(runs)


@dataclass
class ClassResult:
    plan: mc.ClassPlan
    rate: float
    load: LoadResult  # its run, call ends (with strikes and refusal), verdicts
    problems: list[str] = field(default_factory=list)


@dataclass
class MixResult:
    rate: float
    classes: dict[str, ClassResult]
    cpu_used: dict[str, float] | None  # the stack's CPU seconds over the run (local only)
    elapsed_s: float

    @property
    def calls(self) -> int:
        return sum(len(c.plan.callers) for c in self.classes.values())

    @property
    def behaved(self) -> bool:
        return not any(c.problems for c in self.classes.values())

    def cpu_ms_per_call(self) -> dict[str, float]:
        sipp = sum(c.load.run.cpu_s for c in self.classes.values())
        parts = {**(self.cpu_used or {}), "sipp": sipp}
        return {k: 1000 * v / max(1, self.calls) for k, v in parts.items()}


def measure(
    settings: Settings, counts: dict[str, int], rate: float, *,
    target: str | None = None, did: str = DEFAULT_DID, offset: int = 0,
) -> MixResult:  # fmt: skip
    """Import, place every class at once at its share of ``rate``, check, clean up."""
    host, port, local = parse_target(target, settings)
    password = "".join(secrets.choice("0123456789") for _ in range(8))
    plans = mc.build(counts, password, offset=offset)
    total = sum(counts.values())
    numbers = mc.numbers_used(plans)
    testrange.remove_numbers(settings, numbers)  # leftovers of a killed run: start clean
    testrange.import_lines(settings, [line for p in plans.values() for line in p.lines])
    log = settings.calls_log
    offset_log = log.stat().st_size if log.exists() else 0
    run_dir = settings.state_dir / "run"
    try:
        before = cpu.snapshot(run_dir) if local else None
        started = time.monotonic()
        with (
            tempfile.TemporaryDirectory(prefix="ivr-mix-") as work,
            ThreadPoolExecutor(max_workers=len(plans)) as pool,
        ):
            futures = {
                name: pool.submit(run_class, p, rate * len(p.callers) / total, did, host, port,
                                  Path(work) / name)
                for name, p in plans.items()
            }  # fmt: skip
            runs = {name: f.result() for name, f in futures.items()}
        elapsed = time.monotonic() - started
        cpu_used = cpu.delta(before, cpu.snapshot(run_dir)) if before is not None else None
        callers = {c for p in plans.values() for c in p.callers}
        deadline = time.monotonic() + 15
        while True:  # the last call.end lines follow the last BYEs closely
            ends = read_calls(log, offset_log, callers)
            if callers <= set(ends) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        checks = {n: password for p in plans.values() for n in (*p.targets.values(),
                  *p.untouched.values())}  # fmt: skip
        verified = testrange.verify_all(settings, checks)
    finally:
        testrange.remove_numbers(settings, numbers)
    classes = {}
    for name, p in plans.items():
        run = runs[name]
        mine = {
            c: replace(ends[c], refused=run.calls[c].refused if c in run.calls else None)
            for c in p.callers
            if c in ends
        }
        result = LoadResult(
            calls=len(p.callers), rate=rate * len(p.callers) / total, run=run,
            ends={c: o.end for c, o in mine.items()},
            verified={c: verified.get(t, "none") for c, t in p.targets.items()},
            cpu_used=None, last_key_s=p.last_key_s,
            goodbye={c: goodbye_seconds(settings.cache_dir, t) for c, t in p.targets.items()},
        )  # fmt: skip
        problems = mc.check(p, list(mine.values()), verified)
        classes[name] = ClassResult(p, result.rate, result, problems)
    return MixResult(rate, classes, cpu_used, elapsed)


def idle_cpu(settings: Settings, seconds: float = 5.0) -> dict[str, float]:
    """The stack's CPU seconds per second with no call: taken off the solo figures."""
    run_dir = settings.state_dir / "run"
    before = cpu.snapshot(run_dir)
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return {k: v / seconds for k, v in cpu.delta(before, cpu.snapshot(run_dir)).items()}


def _p95(values: list[float]) -> str:
    v = sorted(values)
    return f"{v[round(0.95 * (len(v) - 1))]:.2f} s" if v else "–"


HEADER = [
    "class", "share", "rate", "offered", "answered", "set", "verified", "refused",
    "last key → 完了 p95", "Asterisk ms/call", "FastAGI ms/call", "Redis ms/call",
    "SIPp ms/call", "as its class should",
]  # fmt: skip
PARTS = ("asterisk", "agi", "redis", "sipp")


def _row(name: str, share: str, rate: float, loads: list[LoadResult], cpu_ms: dict, ok: str):
    calls = [c for r in loads for c in r.run.calls.values()]
    refusals = Counter(c.refused for c in calls if c.refused is not None)
    n_set = sum(r.outcomes.get("set", 0) for r in loads)
    n_ok = sum(1 for r in loads for v in (r.verified or {}).values() if v == "ok")
    offered = sum(r.calls for r in loads)
    return [
        name, share, f"{rate:.3g}/s", str(offered),
        str(sum(1 for c in calls if c.answered is not None)), str(n_set), str(n_ok),
        ", ".join(f"{k}: {v}" for k, v in sorted(refusals.items())) or "0",
        _p95([d for r in loads for d in r.completion_delays()]),
        *(f"{cpu_ms[k]:.1f}" if k in cpu_ms else "–" for k in PARTS), ok,
    ]  # fmt: skip


def table(mix: MixResult, solo: dict[str, dict[str, float]]) -> str:
    """Markdown: one row per class (the stack's CPU from its solo run), then the whole mix."""
    rows = []
    for name, c in mix.classes.items():
        # SIPp: the class's own processes in the mix; the stack's parts: its solo run
        cpu_ms = {**solo.get(name, {}), "sipp": 1000 * c.load.run.cpu_s / max(1, c.load.calls)}
        share = f"{c.load.calls / max(1, mix.calls):.0%}"
        ok = "yes" if not c.problems else "NO: " + "; ".join(sorted(set(c.problems))[:3])
        rows.append(_row(name, share, c.rate, [c.load], cpu_ms, ok))
    loads = [c.load for c in mix.classes.values()]
    rows.append(_row("**whole mix**", "100%", mix.rate, loads, mix.cpu_ms_per_call(),
                     "yes" if mix.behaved else "NO"))  # fmt: skip
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def solo_runs(settings: Settings, classes: list[str], calls: int, rate: float,
              target: str | None) -> dict[str, dict[str, float]]:  # fmt: skip
    """Each class alone: its CPU ms per call, the stack's idle CPU over the run taken off."""
    if calls < 1:
        return {}
    idle = idle_cpu(settings) if target is None else {}
    out = {}
    for name in classes:
        r = measure(settings, {name: calls}, rate, target=target, offset=50_000)
        print(f"# {name} alone: {'behaved' if r.behaved else r.classes[name].problems[:3]}",
              file=sys.stderr)  # fmt: skip
        used = {k: max(0.0, v - idle.get(k, 0.0) * r.elapsed_s) for k, v in
                (r.cpu_used or {}).items()}  # fmt: skip
        out[name] = {k: 1000 * v / calls for k, v in used.items()}
        out[name]["sipp"] = 1000 * r.classes[name].load.run.cpu_s / calls
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=10.0, help="calls per second, all classes")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    p.add_argument("--shares", default=mc.DEFAULT_SHARES, help="NAME=WEIGHT,... per class")
    p.add_argument("--solo-calls", type=int, default=0, help="then each class alone: N calls")
    p.add_argument("--target", help="HOST:PORT of a running stack (default: start one)")
    p.add_argument("--pin", action="store_true", help="Asterisk alone on core 0")
    args = p.parse_args(argv)
    shares = mc.parse_shares(args.shares)
    counts = mc.split_calls(max(len(shares), round(args.rate * args.duration)), shares)
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    if args.target:
        settings = Settings.from_env()
        mix = measure(settings, counts, args.rate, target=args.target)
        solo = solo_runs(settings, list(counts), args.solo_calls, args.rate, args.target)
    else:
        with running_stack("a", args.pin) as settings:
            mix = measure(settings, counts, args.rate)
            solo = solo_runs(settings, list(counts), args.solo_calls, args.rate, None)
    cores = "Asterisk pinned alone to core 0, the rest on the others" if args.pin else "shared"
    print(f"mix of {mix.calls} calls at {args.rate:g}/s over {args.duration:g} s; nproc"
          f" {os.cpu_count()}, cores {cores}; 1-min load {load_before:.1f} before,"
          f" {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print(table(mix, solo if args.solo_calls else {}))
    return 0 if mix.behaved else 1


if __name__ == "__main__":
    raise SystemExit(main())
