"""`ivrctl cluster` with `"netns": 1`: every node in a network namespace of its own.

Each Redis node, each Sentinel and each FastAGI server gets a namespace joined to a bridge
in a hub namespace (ivr.deploy.netns), so one of them can be cut off (`cluster cut NODE`:
its link goes down, packets vanish, a connect waits for its timeout) and healed. Asterisk,
Kamailio and the login service share one "edge" namespace: there they keep talking over
the edge's own loopback, as in the loopback topology, and reach the FastAGI servers and
the store over the bridge. Nothing is added to the host's namespace: the addresses
(10.213.0.0/24) exist only in the namespaces `cluster up` makes and `cluster down` removes.
This process reaches the nodes from the edge (netns.call_in); an operator or a test places
calls from there too (`cluster exec -- CMD`). The directory is SQLite in the state dir: the
machine's PostgreSQL listens on the host's loopback, which no namespace reaches.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ivr.deploy import netns
from ivr.deploy.cluster_plan import Plan, Topology

EDGE = "edge"
T = TypeVar("T")


def directory_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'directory.db'}"


def layout(t: Topology) -> dict[str, Any]:
    """The plan's record: a fresh tag, and each node's address in the order they are made."""
    names = [EDGE, *(f"redis-{i}" for i in range(1 + t.redis_replicas))]
    names += [f"sentinel-{k}" for k in range(3)] + [f"agi-{j}" for j in range(t.agi_servers)]
    nodes = {name: f"{netns.SUBNET}.{i + 2}" for i, name in enumerate(names)}
    return {"tag": secrets.token_hex(3), "nodes": nodes}


def net(plan: Plan) -> netns.Net:
    return netns.Net.attach(plan.netns["tag"], plan.netns["nodes"])


def ensure(plan: Plan) -> None:
    """The plan's namespaces, made unless its hub is there already (a second `up`)."""
    n = net(plan)
    if n.hub in netns.leftovers(n.tag):
        return
    n.remove()  # a partial set from an interrupted `up`
    made = netns.Net(tag=n.tag).create()
    for name, address in plan.netns["nodes"].items():
        if made.add(name) != address:
            raise RuntimeError(f"namespace {name}: address differs from the plan's {address}")


def remove(plan: Plan) -> list[str]:
    """Every namespace of the plan; the ones still there afterwards (none expected)."""
    n = net(plan)
    n.remove()
    return netns.leftovers(n.tag)


def wrap(plan: Plan, name: str, argv: list[str]) -> list[str]:
    """argv run inside node `name`'s namespace (the edge's for Asterisk, Kamailio, api)."""
    if not plan.netns:
        return argv
    return net(plan).argv(name if name in plan.netns["nodes"] else EDGE, argv)


def at_edge(plan: Plan, fn: Callable[[], T]) -> T:
    """fn() from where it reaches every node: the edge namespace, or here on loopback."""
    if not plan.netns:
        return fn()
    return netns.call_in(net(plan).ns(EDGE), fn)


def node_names(plan: Plan) -> list[str]:
    return [name for name in plan.netns.get("nodes", {}) if name != EDGE]


def cut(plan: Plan, node: str, *, heal: bool = False) -> str:
    """Take node's link down (or up again); the line to print. ValueError: no such node."""
    if not plan.netns:
        raise ValueError('cut and heal need the netns topology ("netns": 1)')
    if node not in plan.netns["nodes"]:
        raise ValueError(f"no node {node!r}: one of {', '.join(plan.netns['nodes'])}")
    n = net(plan)
    (n.heal if heal else n.cut)(node)
    return f"{node}: {'healed' if heal else 'cut off (its link is down)'}"


def exec_argv(plan: Plan, node: str, argv: list[str]) -> list[str]:
    if not plan.netns:
        raise ValueError('exec needs the netns topology ("netns": 1)')
    if node not in plan.netns["nodes"]:
        raise ValueError(f"no node {node!r}: one of {', '.join(plan.netns['nodes'])}")
    return net(plan).argv(node, argv)


def run(plan: Plan, node: str, argv: list[str], env: dict[str, str]) -> None:
    """`cluster exec`: replaces this process with argv inside the node's namespace."""
    full = exec_argv(plan, node, argv)
    os.execvpe(full[0], full, env)
