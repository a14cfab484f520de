"""Capacity side by side, one run on one machine: (a) this service, (b) Asterisk alone (the
floor), (c) the classic deployment (one pyst2 process per call).

Each configuration gets its own stack (fresh state dir, free ports) and bursts of
``--burst-s`` seconds of arrivals at rising rates, the full unit-1 dial-in from SIPp with RFC
4733 keys (ivr.tools.load). A rate passes when every call set its password (for (a) and (c) also
verified through the store); it is also "on time" when the completion prompt came at most
ON_TIME_S after the last key for 95 % of the calls (the rest waited for an overloaded
machine in silence). The sweep of a configuration stops at its first failing rate.
With ``--pin`` Asterisk (every thread of its process tree) runs on core 0 alone and
everything else (the FastAGI server and its derivations, Redis, SIPp, this process) on the
other cores: the figure a carrier sizes a media host with, when the FastAGI servers run on
other machines (docs/scale-out.md).
(a) runs with no call caps (IVR_MAX_CALLS=0, IVR_MAX_CALLS_PER_S=0) so that its own limit
shows (the defaults of both are derived from this); the event-loop-lag guard stays on, as
shipped. Prints one table, in Markdown, for docs/benchmarks.md.

    .venv/bin/python -m benchmarks.capacity            # b, a, c at their DEFAULT_RATES
    .venv/bin/python -m benchmarks.capacity --pin --configs b,a   # per media core
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import floor
from ivr.config.secret_files import write_private
from ivr.config.settings import Settings
from ivr.deploy import procs, stack
from ivr.tools.load import LoadResult, measure, report
from ivr.tools.plan import DEFAULT_DID
from loadgen.ports import free_port

CLASSIC_DID = "0699990002"
ON_TIME_S = 2.0  # last key → completion prompt, 95th percentile
NAMES = {"a": "(a) service", "b": "(b) Asterisk alone", "c": "(c) pyst2 per call"}
# Rising rates, each configuration around its own limit (it stops at its first failure).
DEFAULT_RATES = {"a": "15,25,30,40,50,60,80", "b": "40,60,80,100,120,150", "c": "2,3,5"}


MEDIA_CORE = 0


def _tree(root: int) -> list[int]:
    """root and every descendant, from /proc (Asterisk runs under its chroot's wrapper)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def pin(pid: int, cpus: set[int]) -> int:
    """Every thread of pid's process tree on ``cpus``; new threads inherit it. Returns the
    number of threads pinned."""
    n = 0
    for proc in _tree(pid):
        for task in Path(f"/proc/{proc}/task").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)
                n += 1
    return n


def _pin_media(settings: Settings) -> None:
    """Asterisk alone on MEDIA_CORE; this process (and so SIPp) and the rest elsewhere."""
    others = set(range(os.cpu_count() or 1)) - {MEDIA_CORE}
    if not others:
        raise SystemExit("benchmarks.capacity --pin needs two cores")
    run = settings.state_dir / "run"
    os.sched_setaffinity(0, others)
    for name in ("agi", "redis"):
        if (pid := procs.running_pid(name, run_dir=run)) is not None:
            pin(pid, others)
    pid = procs.running_pid("asterisk", run_dir=run)
    if pid is None or not pin(pid, {MEDIA_CORE}):
        raise SystemExit("benchmarks.capacity --pin: Asterisk is not running")


CAPS_OFF = {"IVR_MAX_CALLS": "0", "IVR_AGI_MAX_CALLS": "0", "IVR_MAX_CALLS_PER_S": "0"}


@contextlib.contextmanager
def own_stack(
    prefix: str, extra: dict[str, str], prepare: Callable[[Settings], None] = lambda _s: None
) -> Iterator[Settings]:
    """A stack of its own (fresh state dir, free ports, `extra` settings, `prepare` before
    `up`), stopped (by pid) and removed afterwards; the soak benchmark's too."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    saved = dict(os.environ)
    names = ("SIP", "AGI", "AMI", "REDIS", "METRICS", "ASTERISK_HTTP", "API")
    os.environ.update({f"IVR_{n}_PORT": str(free_port()) for n in names})
    os.environ["IVR_STATE_DIR"] = str(work / "state")  # the stack's children read it too
    os.environ.update(extra)
    os.environ.pop("IVR_REDIS_URL", None)
    os.environ.pop("IVR_DATABASE_URL", None)
    settings = Settings.from_env()
    umask = os.umask(0o077)  # stack.up sets it for this process; given back afterwards
    try:
        prepare(settings)
        stack.up(settings)
        yield settings
    finally:
        stack.down(settings)
        os.umask(umask)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)


def _reference_dialplans(settings: Settings, config: str) -> None:
    local = floor.dialplan()
    if config == "c":
        from benchmarks.classic import install  # noqa: PLC0415 (only (c) needs it)

        install.install(settings)
        local += install.dialplan(CLASSIC_DID)
    etc = settings.state_dir / "asterisk" / "etc"
    etc.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(etc / "extensions_local.conf", local)


@contextlib.contextmanager
def running_stack(config: str, pinned: bool = False) -> Iterator[Settings]:
    """A stack of its own for one configuration, with no call caps (its own limit shows);
    with ``pinned``, Asterisk alone on the media core."""
    prepare = lambda s: _reference_dialplans(s, config)  # noqa: E731
    with own_stack("ivr-capacity-", CAPS_OFF, prepare) as settings:
        try:
            if pinned:
                _pin_media(settings)
            yield settings
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def _p95(values: list[float]) -> float:
    v = sorted(values)
    return v[round(0.95 * (len(v) - 1))] if v else float("nan")


@dataclass
class Row:
    config: str
    rate: float
    result: LoadResult

    @property
    def completion_p95(self) -> float:
        return _p95(self.result.completion_delays())

    @property
    def on_time(self) -> bool:
        return self.result.all_set and self.completion_p95 <= ON_TIME_S

    def cells(self) -> list[str]:
        r = self.result
        cpu = r.cpu_ms_per_call()
        n_set = r.outcomes.get("set", 0)
        lengths = [c.end - c.start for c in r.run.calls.values() if c.end and c.start]
        return [
            NAMES[self.config],
            f"{self.rate:g}/s",
            str(r.calls),
            f"{n_set}/{r.calls}" + (" ✓" if r.all_set else ""),
            str(r.run.peak_concurrent()),
            f"{_p95(lengths):.1f} s",
            f"{self.completion_p95:.1f} s" + (" ✓" if self.on_time else ""),
            *(f"{cpu.get(k, 0.0):.1f}" for k in ("asterisk", "agi", "redis", "sipp")),
        ]


HEADER = [
    "config", "rate", "calls", "set", "peak at once", "call p95", "last key → 完了 p95",
    "Asterisk ms/call", "FastAGI ms/call", "Redis ms/call", "SIPp ms/call",
]  # fmt: skip


def sweep(config: str, rates: list[float], burst_s: float, pinned: bool = False) -> list[Row]:
    did = {"a": DEFAULT_DID, "b": floor.DID, "c": CLASSIC_DID}[config]
    rows: list[Row] = []
    with running_stack(config, pinned) as settings:
        for rate in rates:
            calls = max(1, round(rate * burst_s))
            result = measure(settings, calls=calls, rate=rate, did=did, verify=config != "b")
            print(f"# {NAMES[config]} at {rate:g}/s", *report(result), sep="\n", file=sys.stderr)
            rows.append(Row(config, rate, result))
            if not result.all_set:
                break
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def summary(rows: list[Row]) -> list[str]:
    """Highest passing rates per configuration, (a)/(b) for both criteria, and the server's
    CPU per call (c)/(a), each taken at its configuration's highest all-set rate."""
    best: dict[str, Row] = {}
    timely: dict[str, Row] = {}
    for r in rows:
        if r.result.all_set and (r.config not in best or r.rate > best[r.config].rate):
            best[r.config] = r
        if r.on_time and (r.config not in timely or r.rate > timely[r.config].rate):
            timely[r.config] = r
    out = []
    for c in NAMES:
        if c in best:
            top = " (the highest tried)" if best[c] is _last(rows, c) else ""
            on_time = f"{timely[c].rate:g}/s" if c in timely else "none"
            out.append(
                f"{NAMES[c]}: every call set up to {best[c].rate:g}/s{top};"
                f" on time (完了 p95 ≤ {ON_TIME_S:g} s) up to {on_time}"
            )
    for label, pick in (("every call set", best), ("on time", timely)):
        if "a" in pick and "b" in pick:
            out.append(f"(a)/(b), {label}: {pick['a'].rate / pick['b'].rate:.0%}")
    if {"a", "b", "c"} <= set(best):
        cpu = {c: best[c].result.cpu_ms_per_call() for c in "abc"}
        # (c)'s server runs as Asterisk's children: its Asterisk figure minus the floor's.
        c_server = cpu["c"].get("asterisk", 0.0) - cpu["b"].get("asterisk", 0.0)
        a_server = cpu["a"].get("agi", 0.0)
        out.append(
            f"server CPU per call: (c) {c_server:.1f} ms (Asterisk with its children − the"
            f" floor's Asterisk), (a) {a_server:.1f} ms (the FastAGI process):"
            f" (c)/(a) = {c_server / max(a_server, 1e-9):.1f}"
        )
    return out


def _last(rows: list[Row], config: str) -> Row | None:
    mine = [r for r in rows if r.config == config]
    return mine[-1] if mine else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="b,a,c", help="which of a,b,c, in order (default b,a,c)")
    for c, rates in DEFAULT_RATES.items():
        p.add_argument(f"--rates-{c}", default=rates, help=f"calls per second for ({c})")
    p.add_argument("--burst-s", type=float, default=20.0, help="seconds of arrivals per rate")
    p.add_argument("--pin", action="store_true", help="Asterisk alone on core 0 (per media core)")
    args = p.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if not configs or any(c not in NAMES for c in configs):
        raise SystemExit("benchmarks.capacity: --configs takes a, b and c")
    rates = {c: sorted(float(r) for r in getattr(args, f"rates_{c}").split(",")) for c in NAMES}
    rows = [row for c in configs for row in sweep(c, rates[c], args.burst_s, args.pin)]
    where = "Asterisk pinned alone to core 0" if args.pin else "shared cores"
    print(f"nproc {os.cpu_count()}, {where}, bursts of {args.burst_s:g} s of arrivals")
    print(table(rows))
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
