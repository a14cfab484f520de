"""The partition test's faults: each applied to the rig, held, healed (docs/scale-out.md).

A fault is named; `apply` returns the undo (None: nothing to heal, e.g. a kill). Each one
picks its victim when it starts (the primary the Sentinels name now), so the schedule
holds whatever failovers the earlier faults caused.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.jepsen.rig import Node, Rig

Undo = Callable[[], None] | None


@dataclass(frozen=True)
class Fault:
    name: str
    hold_s: float
    what: str  # one line for the report


FAULTS = {
    f.name: f
    for f in (
        Fault("primary-isolated", 8.0, "the primary cut off from everything"),
        Fault("primary-minority", 8.0,
              "the primary cut off from replicas and Sentinels, reachable by agi-0"),
        Fault("primary-frozen", 6.0, "the primary frozen (SIGSTOP) longer than the failover"),
        Fault("sentinel-isolated", 8.0, "one Sentinel cut off"),
        Fault("agi-cut-from-redis", 5.0, "agi-1 cut off from every store node mid-commit"),
        Fault("agi-blackholed", 8.0, "agi-0 blackholed for the callers (packets dropped)"),
        Fault("primary-killed", 0.0, "the primary killed (SIGKILL), never restarted"),
    )
}  # fmt: skip
SCHEDULE = list(FAULTS)  # the kill last: two data nodes remain


def _pid(node: Node) -> int:
    assert node.proc is not None
    return node.proc.pid


def apply(rig: Rig, name: str) -> tuple[str, Undo]:
    """Start fault `name`; (the victim, how to heal it)."""
    net = rig.net
    assert net is not None
    if name.startswith("primary-"):
        p = rig.primary()
        if p is None:
            raise RuntimeError(f"{name}: the Sentinels name no primary")
        if name == "primary-isolated":
            net.cut(p.name)
            return p.name, lambda: net.heal(p.name)
        if name == "primary-minority":
            others = [n.name for n in rig.data + rig.sentinels if n is not p]
            for peer in [*others, "agi-1", "web"]:
                net.block(p.name, peer)
            return p.name, net.unblock_all
        if name == "primary-frozen":
            os.kill(_pid(p), signal.SIGSTOP)
            return p.name, lambda: os.kill(_pid(p), signal.SIGCONT)
        if name == "primary-killed":
            os.kill(_pid(p), signal.SIGKILL)
            assert p.proc is not None
            p.proc.wait(timeout=10)
            return p.name, None
    if name == "sentinel-isolated":
        net.cut("sentinel-0")
        return "sentinel-0", lambda: net.heal("sentinel-0")
    if name == "agi-cut-from-redis":
        for node in rig.data + rig.sentinels:
            net.block("agi-1", node.name)
        return "agi-1", net.unblock_all
    if name == "agi-blackholed":
        net.block("asterisk", "agi-0")
        return "agi-0", net.unblock_all
    raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
