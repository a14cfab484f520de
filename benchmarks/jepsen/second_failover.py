"""Kill the primary, then freeze the one that replaced it: does a second failover come?

`python -m benchmarks.jepsen.second_failover --rounds 5 [--keep DIR]` runs the store rig
(loopback: three data nodes, three Sentinels, ivr.deploy.redis_ha's settings) once per
round: SIGKILL the primary (never restarted), wait for the Sentinels to name another and
for the rig to settle, then SIGSTOP the new one and wait up to 60 s for a third. Before the
freeze it prints what each Sentinel says of the surviving replica (flags, link-down time,
age of its last INFO); --keep DIR keeps each round's logs. Why it matters: docs/scale-out.md
"Two failovers in a row".
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import time
from pathlib import Path

from benchmarks.jepsen import rig
from ivr.deploy.procs import wait_for

WAIT_S = 60.0


def _replica_view(r: rig.Rig, replica: rig.Node) -> list[str]:
    """Each Sentinel's fields for the replica a second failover must promote."""
    fields = ("flags", "master-link-status", "master-link-down-time", "info-refresh")
    out = []
    for s in r.sentinels:
        row = r.replicas_seen(s).get((replica.host, replica.port), {})
        out.append(f"{s.name}: " + " ".join(f"{f}={row.get(f, '?')}" for f in fields))
    return out


def one_round(keep: Path | None, n: int) -> tuple[float, float | None]:
    """One rig, one kill then one freeze; the rig's logs kept in keep/round-N."""
    with rig.running(netns=False) as r:
        try:
            return _kill_then_freeze(r)
        finally:
            if keep is not None:  # every round's: what the Sentinels did is read from them
                dest = keep / f"round-{n}"
                dest.mkdir(parents=True, exist_ok=True)
                for log in r.dir.glob("*.log"):
                    shutil.copy(log, dest / log.name)


def _kill_then_freeze(r: rig.Rig) -> tuple[float, float | None]:
    """(seconds to the first failover, to the second or None)."""
    first = r.primary()
    assert first is not None and first.proc is not None
    t0 = time.monotonic()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    if not wait_for(lambda: r.primary() not in (None, first), WAIT_S, 0.1):
        raise RuntimeError("no first failover")
    t1 = time.monotonic() - t0
    if not wait_for(r.settled, WAIT_S, 0.2):
        raise RuntimeError("did not settle after the first failover")
    second = r.primary()
    assert second is not None and second.proc is not None
    replica = next(x for x in r.data if x not in (first, second))
    print("\n".join(f"  before the freeze {line}" for line in _replica_view(r, replica)))
    t0 = time.monotonic()
    os.kill(second.proc.pid, signal.SIGSTOP)
    try:
        ok = wait_for(lambda: r.primary() not in (None, second), WAIT_S, 0.1)
    finally:
        os.kill(second.proc.pid, signal.SIGCONT)
    return t1, (time.monotonic() - t0 if ok else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="where the logs of a failed round go")
    args = parser.parse_args()
    missed = 0
    for n in range(args.rounds):
        t1, t2 = one_round(args.keep, n)
        missed += t2 is None
        second = f"{t2:.1f}s" if t2 is not None else f"none in {WAIT_S:.0f}s"
        print(f"round {n}: first failover {t1:.1f}s, second {second}, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    print(f"{missed} of {args.rounds} rounds without a second failover")


if __name__ == "__main__":
    main()
