"""The Jepsen-style test of the store: load, faults, then the history checker's verdict.

Everything runs in network namespaces this run creates (benchmarks.jepsen.rig,
ivr.deploy.netns): three Redis data nodes, three Sentinels, two FastAGI servers (the real
`ivr.service.serve`), a simulated Asterisk calling at `rate` (benchmarks.jepsen.caller) and
the web site verifying (benchmarks.jepsen.web). The faults of `schedule` follow one another
(benchmarks.jepsen.faults), each held, healed, and followed by a quiet spell; afterwards
the web site verifies every number's latest acknowledged password and the checker reads
the whole history. Nothing remains afterwards: no process, no namespace, no file.

    .venv/bin/python -m benchmarks.jepsen.run [--rate 10] [--duration 300] [--weak]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.jepsen import agi_nodes, checker, faults, rig
from ivr.config.secret_files import write_private
from ivr.deploy.netns import leftovers
from ivr.deploy.procs import wait_for

NUMBERS = [f"069000{i:04d}" for i in range(1000, 1300)]
QUIET_S = 6.0  # load without a fault between two faults


@dataclass
class Outcome:
    report: checker.Report
    faults: list[dict] = field(default_factory=list)  # name, victim, on, off, healed, stats
    calls: int = 0
    rate: float = 0.0
    seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _sets(calls: list[dict], ends: dict[str, dict]) -> list[checker.SetOp]:
    """A call's outcome is its server's call.end; taken but unlogged: its fate is unknown."""
    out = []
    for c in calls:
        if c.get("server") is None:
            continue
        outcome = ends.get(c["call_id"], {}).get("outcome", checker.UNKNOWN)
        out.append(checker.SetOp(c["caller"], c["call_id"], c["t_start"], c["t_end"], outcome))
    return out


def _final_candidates(sets: list[checker.SetOp]) -> dict[str, list[str]]:
    """Per number: the latest acknowledged set, then unknown ones that began after it."""
    out: dict[str, list[str]] = {}
    for number in sorted({s.number for s in sets}):
        mine = [s for s in sets if s.number == number]
        acked = sorted((s for s in mine if s.outcome == checker.ACKED), key=lambda s: s.end)
        if not acked:
            continue
        last = acked[-1]
        later = [s for s in mine if s.outcome == checker.UNKNOWN and s.end > last.start]
        out[number] = [last.call_id, *(s.call_id for s in sorted(later, key=lambda s: s.start))]
    return out


def fault_stats(f: dict, sets: list[checker.SetOp], calls: list[dict]) -> dict:
    """What one fault cost: refused sets, calls in progress lost, time to the next set."""
    on, until = f["on"], f["healed"] + QUIET_S
    window = [s for s in sets if on <= s.end <= until]
    acked = sorted(s.end for s in sets if s.outcome == checker.ACKED and s.start >= on)
    in_progress = [s for s in sets if s.start < on < s.end]
    blackholed = [c["lost_s"] for c in calls if on <= c["t_start"] <= f["off"]]
    return {
        "error_store": sorted(s.call_id for s in window if s.outcome == checker.UNKNOWN),
        "sets_refused": sum(1 for s in window if s.outcome == checker.UNKNOWN),
        "in_progress_lost": sum(1 for s in in_progress if s.outcome != checker.ACKED),
        "in_progress": len(in_progress),
        "next_set_s": round(acked[0] - on, 2) if acked else None,
        "max_lost_to_dead_server_s": round(max(blackholed, default=0.0), 2),
    }


def _round_s(names: list[str]) -> float:
    """About how long one pass over names takes (hold, heal and settle, quiet)."""
    return sum(faults.FAULTS[n].hold_s + 3.0 + QUIET_S for n in names)


def _spawn_load(r: rig.Rig, agis: list[agi_nodes.Agi], rate: float) -> tuple[list, dict]:
    """The callers and the web site, each in its namespace; (their processes, web config)."""
    assert r.net is not None
    write_private(r.dir / "seed", secrets.token_hex(32))
    d = {k: str(r.dir / v) for k, v in (("seed_file", "seed"), ("secret_file", "agi-secret"),
         ("redis_password_file", "redis-password"), ("pepper_file", "pepper"))}  # fmt: skip
    caller_cfg = {"t0": int(time.time()), "rate": rate, "numbers": NUMBERS,
                  "servers": [[a.host, agi_nodes.AGI_PORT] for a in agis],
                  "out": str(r.dir / "calls.jsonl"), **d}  # fmt: skip
    web_cfg = {"rate": 4.0, "calls_logs": [str(a.calls_log) for a in agis], "redis_url": r.url,
               "out": str(r.dir / "verifies.jsonl"), **d}  # fmt: skip
    procs = [
        _spawn(r, "caller", "asterisk", "benchmarks.jepsen.caller", caller_cfg),
        _spawn(r, "web", "web", "benchmarks.jepsen.web", web_cfg),
    ]
    return procs, web_cfg


def _spawn(r: rig.Rig, name: str, ns: str, module: str, cfg: dict):  # noqa: ANN202
    assert r.net is not None
    write_private(r.dir / f"{name}.json", json.dumps(cfg))
    argv = [sys.executable, "-m", module, str(r.dir / f"{name}.json")]
    return r.spawn(name, r.net.argv(ns, argv))


def _run_faults(r: rig.Rig, schedule: list[str], duration_s: float) -> list[dict]:
    """The schedule (repeated until duration_s, the kill last); when each fault was on."""
    repeat = [n for n in schedule if n != "primary-killed"]
    plan = list(repeat)
    while repeat and (len(plan) / len(repeat)) * _round_s(repeat) < duration_s - 30:
        plan += repeat
    plan += [n for n in schedule if n == "primary-killed"]
    done = []
    time.sleep(QUIET_S)  # the load runs before the first fault
    for name in plan:
        on = time.time()
        victim, undo = faults.apply(r, name)
        time.sleep(faults.FAULTS[name].hold_s)
        off = time.time()
        if undo is not None:
            undo()
        wait_for(r.settled, 40.0, 0.2)
        done.append({"name": name, "victim": victim, "on": on, "off": off, "healed": time.time()})
        time.sleep(QUIET_S)
    return done


def _keep(r: rig.Rig, agis: list[agi_nodes.Agi], keep: Path, verdict: dict) -> None:
    """The histories, the nodes' logs and the verdict (schedule, per-fault costs, checker)."""
    keep.mkdir(parents=True, exist_ok=True)
    (keep / "verdict.json").write_text(json.dumps(verdict, indent=1) + "\n")
    for name in ("calls.jsonl", "verifies.jsonl", "final.jsonl"):
        (keep / name).write_bytes((r.dir / name).read_bytes())
    for a in agis:
        (keep / f"{a.name}-calls.jsonl").write_bytes(a.calls_log.read_bytes())
    for log in r.dir.glob("*.log"):  # the nodes' own logs (no secret in them)
        (keep / log.name).write_bytes(log.read_bytes())


def run(*, rate: float, duration_s: float, schedule: list[str], weak: bool = False,
        keep: Path | None = None) -> Outcome:  # fmt: skip
    t_begin = time.time()
    with rig.running(netns=True, weak=weak) as r:
        assert r.net is not None
        for name in ("asterisk", "web"):
            r.net.add(name)
        agis = agi_nodes.start(r, 2, NUMBERS, replicas=0 if weak else 1)
        procs, web_cfg = _spawn_load(r, agis, rate)
        done = _run_faults(r, schedule, duration_s)
        for proc in procs:  # SIGTERM: no new call; those in flight end
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=90)
        calls = _lines(r.dir / "calls.jsonl")
        ends = {e["call_id"]: e for a in agis for e in _lines(a.calls_log)
                if e.get("event") == "call.end"}  # fmt: skip
        sets = _sets(calls, ends)
        final = {**web_cfg, "final": _final_candidates(sets), "out": str(r.dir / "final.jsonl")}
        _spawn(r, "final", "web", "benchmarks.jepsen.web", final).wait(timeout=300)
        verifies = [
            checker.VerifyOp(v["number"], v["call_id"], v["t_start"], v["t_end"], v["answer"])
            for p in ("verifies.jsonl", "final.jsonl")
            for v in _lines(r.dir / p)
        ]
        report = checker.check(sets, verifies)
        for f in done:
            f["stats"] = fault_stats(f, sets, calls)
        if keep is not None:
            anomalies = [a.__dict__ for a in report.anomalies]
            _keep(r, agis, keep, {"summary": report.summary(), "faults": done,
                                  "anomalies": anomalies})  # fmt: skip
        tag = r.net.tag
    starts = [c["t_start"] for c in calls] or [0.0]
    span = max(max(starts) - min(starts), 1e-9)
    return Outcome(report, done, len(calls), len(calls) / span, round(time.time() - t_begin, 1),
                   leftovers(tag))  # fmt: skip


def print_outcome(o: Outcome) -> None:
    print(f"calls {o.calls} ({o.rate:.1f}/s) in {o.seconds} s; {o.report.summary()}")
    for f in o.faults:
        st = f["stats"]
        print(f"  {f['name']:<19} victim {f['victim']:<11} held {f['off'] - f['on']:.1f}s"
              f" error_store {st['sets_refused']:>3}  in progress {st['in_progress']:>2}"
              f" (lost {st['in_progress_lost']})  next set {st['next_set_s']}s"
              f"  worst time lost to a dead server {st['max_lost_to_dead_server_s']}s"
              f"  calls {', '.join(st['error_store'][:6])}")  # fmt: skip
    for a in o.report.anomalies[:20]:
        print(f"  anomaly {a.kind} number {a.number} call {a.call_id} answer {a.answer}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--weak", action="store_true", help="no WAIT, no min-replicas: must fail")
    ap.add_argument("--faults", default=",".join(faults.SCHEDULE))
    ap.add_argument("--keep", type=Path, help="copy the histories there")
    args = ap.parse_args(argv)
    o = run(rate=args.rate, duration_s=args.duration, schedule=args.faults.split(","),
            weak=args.weak, keep=args.keep)  # fmt: skip
    print_outcome(o)
    return 0 if o.report.ok and not o.leftovers else 1


if __name__ == "__main__":
    raise SystemExit(main())
