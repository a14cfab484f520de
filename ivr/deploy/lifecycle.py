"""`ivrctl stack|cluster up|down|status`, `ivrctl run` and `ivrctl sounds`: one line per part.

`status` exits 3 when a part is not running; `up` exits 1 (after cleaning up) when a part
could not start.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ivr.config.settings import Settings
from ivr.deploy import stack as stack_mod
from ivr.deploy.stack import StackError


def _lifecycle(what: str, action: str, up, down, status, running) -> int:  # type: ignore[no-untyped-def]
    if action == "up":
        try:
            lines = up()
        except StackError as exc:
            print(f"{what} up failed: {exc}", file=sys.stderr)
            return 1
    elif action == "down":
        stopped = down()
        lines = [f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}"]
    else:
        lines = status()
    print("\n".join(lines))
    if action == "status":
        return 0 if all(running(line) for line in lines) else 3
    return 0


def stack(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    return _lifecycle(
        "stack",
        args.action,
        lambda: stack_mod.up(settings),
        lambda: stack_mod.down(settings),
        lambda: stack_mod.status(settings),
        lambda line: " running " in f" {line} " or "external" in line,
    )


def cluster(args: argparse.Namespace) -> int:
    """`ivrctl cluster up|down|status|restart NODE|upgrade` (docs/scale-out.md, operations.md)."""
    from ivr.deploy import cluster as cluster_mod  # noqa: PLC0415 (stack commands skip it)

    settings = Settings.from_env()
    if args.action in ("restart", "upgrade"):
        return _rolling(settings, args.action, args.node)
    if args.action in ("cut", "heal", "exec"):
        return _netns(settings, args)
    topology = args.topology or os.environ.get("IVR_CLUSTER_TOPOLOGY")
    return _lifecycle(
        "cluster",
        args.action,
        lambda: cluster_mod.up(
            settings, Path(topology) if topology else None, netns=args.netns
        ),  # fmt: skip
        lambda: cluster_mod.down(settings),
        lambda: cluster_mod.status(settings),
        lambda line: " running " in line,
    )


def _netns(settings: Settings, args: argparse.Namespace) -> int:
    """`cluster cut NODE`, `heal NODE`, `exec [--node NODE] -- CMD` (the netns topology)."""
    from ivr.deploy import cluster as cluster_mod  # noqa: PLC0415
    from ivr.deploy import cluster_netns  # noqa: PLC0415
    from ivr.deploy.cluster_plan import Plan  # noqa: PLC0415

    plan = Plan.load(settings.state_dir)
    if plan is None:
        print("ivrctl cluster: no cluster here (no cluster.json)", file=sys.stderr)
        return 1
    if args.action == "exec":
        if not args.tail:
            print("ivrctl cluster exec [--node NODE] -- CMD ARGS…", file=sys.stderr)
            return 2
        # the command finds the cluster's store and directory as the servers do
        env = {**os.environ, **cluster_mod.Cluster(settings, plan).shared_env()}
        cluster_netns.run(plan, args.in_node, args.tail, env)  # returns only on an error
    if args.node is None:
        print(f"ivrctl cluster {args.action} NODE", file=sys.stderr)
        return 2
    print(cluster_netns.cut(plan, args.node, heal=args.action == "heal"))
    return 0


def agi_link(args: argparse.Namespace) -> int:
    """`ivrctl agi-link up --client|--server --accept H:P --connect H:P`, `down`, `status`."""
    from ivr.deploy import agi_link as link  # noqa: PLC0415

    settings = Settings.from_env()
    if args.action == "up" and not (args.accept and args.connect and args.role):
        print("agi-link up needs --client or --server, --accept and --connect", file=sys.stderr)
        return 2
    return _lifecycle(
        "agi-link",
        args.action,
        lambda: link.up(
            settings, client=args.role == "client", accept=args.accept, connect=args.connect
        ),  # fmt: skip
        lambda: link.down(settings),
        lambda: link.status(settings),
        lambda line: " running " in line,
    )


def _rolling(settings: Settings, action: str, node: str | None) -> int:
    """`cluster restart NODE` / `cluster upgrade`: one line per step, exit 1 on a failure."""
    from ivr.deploy import rolling  # noqa: PLC0415

    if (action == "restart") != (node is not None):
        print("ivrctl cluster: restart takes one NODE, upgrade none", file=sys.stderr)
        return 2
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        rolling.restart(settings, node, say) if node else rolling.upgrade(settings, say)
    except StackError as exc:
        print(f"cluster {action} failed: {exc}", file=sys.stderr)
        return 1
    return 0


def run(settings: Settings, after_up: Callable[[Settings], list[str]]) -> int:
    """`make run`: the whole stack in the foreground until Ctrl-C, then a clean stop.

    ``after_up`` runs once the stack is up and returns lines to print (the demo loader)."""
    try:
        lines = stack_mod.up(settings)
    except StackError as exc:
        print(f"stack up failed: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print("\n".join(lines + after_up(settings)), flush=True)
        stop.wait()
    finally:
        stopped = stack_mod.down(settings)
        print(f"\nstopped: {', '.join(stopped) or 'nothing'}")
    return 0


def sounds(args: argparse.Namespace) -> int:
    """`make sounds`: render every prompt of the catalog once per machine (cache dir)."""
    from sounds import render  # noqa: PLC0415
    from sounds.catalog import all_entries  # noqa: PLC0415

    cache_dir = Settings.from_env().cache_dir
    cached = render.is_rendered(cache_dir) and not args.force
    out = render.render(cache_dir, force=args.force)
    print(f"sounds: {'cached' if cached else 'rendered'} {len(all_entries())} prompts in {out}")
    return 0
