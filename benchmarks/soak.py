"""Soak: the single-node stack at a steady rate for a long run, sampled every minute.

Each sample: the FastAGI server's RSS, open fds and event-loop lag (its /metrics gauge
ivr_event_loop_lag_seconds: the worst 0.1 s tick of the last 10 s), Asterisk's RSS and
channels up (AMI), Redis used_memory, keys and keys without a TTL, the call log's size, and
the outcomes since the previous sample. After the warm-up, each figure's growth per 1,000
finished calls is the least-squares slope over the samples; `bounds` says which growth
fails. The stack runs as shipped (caps and limits at their defaults), each call from its own
number of the reserved test range, the full unit-1 dial-in (ivr.tools.plan.load_schedule).

    .venv/bin/python -m benchmarks.soak --minutes 30 --rate 10      # docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from benchmarks.capacity import own_stack
from ivr.config.settings import Settings
from ivr.deploy import probes, procs
from ivr.ops.ami import list_channels
from ivr.tools import plan, testrange
from loadgen.runner import run_load

FIGURES = ("agi_rss_mb", "agi_fds", "agi_lag_ms", "asterisk_rss_mb", "asterisk_channels",
           "redis_used_mb", "redis_keys", "redis_keys_no_ttl", "redis_no_ttl_other",
           "log_mb")  # fmt: skip
# Growth per 1,000 calls after the warm-up that fails the run (the CI test's bounds).
# Keys and the log grow by design (every call adds TTL'd records and one line): bounded by
# expiry and rotation. The one key without a TTL is a contract's unit (ivr:contract:{C},
# docs/store.md): one per contract, whatever the calls; any other key without one is a leak.
BOUNDS = {"agi_rss_mb": 2.0, "agi_fds": 2.0, "asterisk_rss_mb": 4.0, "redis_no_ttl_other": 0.5}
# The CI run (a few hundred calls in its steady state) can only catch a gross leak.
# Its FastAGI RSS still grows early on (most likely the derivation pool's threads and their
# allocator arenas, Argon2id at 19 MiB, first used): only a gross leak shows.
CI_BOUNDS = {"agi_rss_mb": 12.0, "agi_fds": 6.0, "asterisk_rss_mb": 12.0, "redis_no_ttl_other": 0.5}
LOG_BYTES_PER_CALL = 4096


@dataclass
class Sample:
    t_s: float
    calls_ended: int
    outcomes: dict[str, int]
    agi_rss_mb: float
    agi_fds: int
    agi_lag_ms: float
    asterisk_rss_mb: float
    asterisk_channels: int
    redis_used_mb: float
    redis_keys: int
    redis_keys_no_ttl: int
    log_mb: float
    redis_no_ttl_other: int = 0  # keys without a TTL that are not a contract's unit (SCAN)


@dataclass
class Soak:
    rate: float
    samples: list[Sample] = field(default_factory=list)
    warmup_s: float = 60.0
    load_s: float | None = None  # how long calls were placed (None: every sample counts)

    def steady(self) -> list[Sample]:
        """The samples of the steady state: past the warm-up and once the calls up have
        reached 90 % of their peak (long calls on a busy machine ramp up for longer), and
        while calls are still placed (not the drain at the end)."""
        loaded = [s for s in self.samples if self.load_s is None or s.t_s <= self.load_s]
        peak = max((s.asterisk_channels for s in loaded), default=0)
        start = next((s.t_s for s in loaded if s.asterisk_channels >= 0.9 * peak), 0.0)
        return [s for s in loaded if s.t_s >= max(self.warmup_s, start)]

    def growth_per_1000(self) -> dict[str, float]:
        """Least-squares slope of each figure against calls ended, in the steady state."""
        after = self.steady()
        if len(after) < 3 or after[-1].calls_ended == after[0].calls_ended:
            return {}
        xs = [s.calls_ended / 1000 for s in after]
        mx = sum(xs) / len(xs)
        out = {}
        for name in FIGURES:
            ys = [float(getattr(s, name)) for s in after]
            my = sum(ys) / len(ys)
            den = sum((x - mx) ** 2 for x in xs)
            out[name] = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
        return out

    def outcomes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.samples:
            total.update(s.outcomes)
        return total

    def failures(self, bounds: dict[str, float] = BOUNDS) -> list[str]:
        """What is out of bounds (empty: the run passes)."""
        growth = self.growth_per_1000()
        bad = [f"{k} grows {growth[k]:+.2f} per 1,000 calls (bound {v:g})"
               for k, v in bounds.items() if growth.get(k, 0.0) > v]  # fmt: skip
        last = self.samples[-1] if self.samples else None
        if last and last.calls_ended and last.log_mb * 1e6 / last.calls_ended > LOG_BYTES_PER_CALL:
            bad.append(f"call log {last.log_mb * 1e6 / last.calls_ended:.0f} bytes per call")
        other = {k: v for k, v in self.outcomes().items() if k != "set"}
        if other:
            bad.append(f"outcomes other than set: {dict(other)}")
        return bad


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _lag_ms(settings: Settings) -> float:
    import urllib.request  # noqa: PLC0415

    url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 (loopback)
        for line in r.read().decode().splitlines():
            if line.startswith("ivr_event_loop_lag_seconds "):
                return float(line.split()[1]) * 1000
    return float("nan")


class Sampler:
    """Reads every figure of one stack; outcomes from the call log since the last look."""

    def __init__(self, settings: Settings, callers: set[str]) -> None:
        self.settings, self.callers = settings, callers
        self.offset, self.ended = 0, 0
        run = settings.state_dir / "run"
        self.agi = procs.running_pid("agi", run_dir=run)
        self.asterisk = procs.running_pid("asterisk", run_dir=run)
        password = settings.redis_password_path.read_text().strip()
        self.redis = redis.Redis(port=settings.redis_port, password=password, socket_timeout=5)
        self.ami_secret = (settings.state_dir / "ami-secret").read_text().strip()

    def _outcomes(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        with open(self.settings.calls_log, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for raw in complete.splitlines():
            line = json.loads(raw)
            if line.get("event") == "call.end" and line.get("caller") in self.callers:
                seen[line["outcome"]] += 1
        return seen

    def sample(self, t_s: float) -> Sample:
        assert self.agi is not None and self.asterisk is not None
        outcomes = self._outcomes()
        self.ended += sum(outcomes.values())
        info = self.redis.info()
        keyspace = info.get("db0", {"keys": 0, "expires": 0})
        s = self.settings
        channels = asyncio.run(list_channels("127.0.0.1", s.ami_port, "ivr", self.ami_secret))
        no_ttl = int(keyspace["keys"]) - int(keyspace.get("expires", 0))
        contracts = sum(1 for _ in self.redis.scan_iter(match="ivr:contract:*", count=5000))
        return Sample(
            t_s=round(t_s, 1), calls_ended=self.ended, outcomes=dict(outcomes),
            agi_rss_mb=round(_rss_mb(self.agi), 2),
            agi_fds=len(os.listdir(f"/proc/{self.agi}/fd")),
            agi_lag_ms=round(_lag_ms(s), 2),
            asterisk_rss_mb=round(_rss_mb(self.asterisk), 2),
            asterisk_channels=len(channels),
            redis_used_mb=round(int(info["used_memory"]) / 1e6, 3),
            redis_keys=int(keyspace["keys"]),
            redis_keys_no_ttl=no_ttl, redis_no_ttl_other=no_ttl - contracts,
            log_mb=round(s.calls_log.stat().st_size / 1e6, 3),
        )  # fmt: skip


def run(minutes: float, rate: float, every_s: float = 60.0, warmup_s: float = 60.0,
        out: Path | None = None) -> Soak:  # fmt: skip
    calls = int(minutes * 60 * rate)
    callers = plan.test_numbers(calls)
    keys = plan.load_schedule("24681357")
    soak = Soak(rate=rate, warmup_s=warmup_s, load_s=minutes * 60)
    with own_stack("ivr-soak-", {}) as settings:  # as shipped: caps and limits on
        assert probes.http_status(settings.metrics_host, settings.metrics_port, "/healthz") == 200
        testrange.import_numbers(settings, callers)
        sampler = Sampler(settings, set(callers))
        started = time.monotonic()
        next_at = [0.0]

        def progress(_stats: dict[str, str], elapsed: float) -> None:
            if elapsed >= next_at[0]:
                next_at[0] += every_s
                soak.samples.append(sampler.sample(time.monotonic() - started))
                _write(out, soak)
                print(_row(soak.samples[-1]), flush=True)

        with tempfile.TemporaryDirectory(prefix="ivr-soak-sipp-") as work:
            run_load(callers=callers, rate=rate, did=plan.DEFAULT_DID, sip_host=settings.sip_host,
                     sip_port=settings.sip_port, schedule=keys, workdir=Path(work),
                     progress=progress)  # fmt: skip
        deadline = time.monotonic() + 30  # the last call.end lines follow the last BYEs
        while sampler.ended + sum(_pending(sampler).values()) < calls:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        soak.samples.append(sampler.sample(time.monotonic() - started))
        _write(out, soak)
    return soak


def _pending(sampler: Sampler) -> Counter[str]:
    """Outcomes written since the last sample, without moving the sampler's offset."""
    offset = sampler.offset
    try:
        return sampler._outcomes()
    finally:
        sampler.offset = offset


def _write(out: Path | None, soak: Soak) -> None:
    if out is not None:
        doc = {"rate": soak.rate, "load_s": soak.load_s,
               "samples": [asdict(s) for s in soak.samples],
               "growth_per_1000": soak.growth_per_1000()}  # fmt: skip
        out.write_text(json.dumps(doc, indent=1))


HEADER = ("| min | calls ended | FastAGI RSS MB | fds | loop lag ms | Asterisk RSS MB | channels "
          "| Redis MB | keys | keys w/o TTL | log MB |")  # fmt: skip


def _row(s: Sample) -> str:
    cells = [f"{s.t_s / 60:.1f}", s.calls_ended, f"{s.agi_rss_mb:.1f}", s.agi_fds,
             f"{s.agi_lag_ms:.1f}", f"{s.asterisk_rss_mb:.1f}", s.asterisk_channels,
             f"{s.redis_used_mb:.2f}", s.redis_keys, s.redis_keys_no_ttl,
             f"{s.log_mb:.2f}"]  # fmt: skip
    return "| " + " | ".join(str(c) for c in cells) + " |"


def report(soak: Soak) -> list[str]:
    lines = [HEADER, "|" + "---|" * 11] + [_row(s) for s in soak.samples]
    growth = soak.growth_per_1000()
    lines += ["", "growth per 1,000 calls after warm-up: "
              + ", ".join(f"{k} {v:+.3f}" for k, v in growth.items()),
              f"outcomes: {dict(soak.outcomes())}",
              f"steady state from {soak.steady()[0].t_s / 60:.1f} min" if soak.steady() else "",
              "result: " + ("; ".join(soak.failures()) or "PASS")]  # fmt: skip
    return lines


def load(path: Path, warmup_s: float) -> Soak:
    """A run's JSON (--out) back, to report it again."""
    doc = json.loads(path.read_text())
    return Soak(rate=doc["rate"], warmup_s=warmup_s, load_s=doc.get("load_s"),
                samples=[Sample(**s) for s in doc["samples"]])  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", type=Path, help="report a saved run (--out JSON); no new run")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=120.0, help="seconds before growth counts")
    p.add_argument("--out", type=Path, help="JSON of every sample (rewritten each sample)")
    a = p.parse_args()
    if a.report:
        soak = load(a.report, a.warmup)
        print("\n".join(report(soak)))
        return 1 if soak.failures() else 0
    soak = run(a.minutes, a.rate, every_s=a.every, warmup_s=a.warmup, out=a.out)
    print("\n".join(report(soak)))
    return 1 if soak.failures() else 0


if __name__ == "__main__":
    raise SystemExit(main())
