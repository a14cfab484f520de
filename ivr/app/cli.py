"""`ivrctl`: the operators' and tools' command line (see shared/spec/interfaces.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from ivr.app import call, calls_live, calls_tail, cluster, load, serve, stack, store_cli
from ivr.app.settings import Settings
from sounds import render as sounds
from sounds.catalog import all_entries


def _lifecycle(what: str, action: str, up, down, status, running) -> int:
    """up / down / status of a stack or a cluster: one line per part; status exits 3 when a
    part is not running, up 1 (after cleaning up) when it could not start."""
    if action == "up":
        try:
            lines = up()
        except stack.StackError as exc:
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


def _stack(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    return _lifecycle(
        "stack",
        args.action,
        lambda: stack.up(settings),
        lambda: stack.down(settings),
        lambda: stack.status(settings),
        lambda line: " running " in f" {line} " or "external" in line,
    )


def _cluster(args: argparse.Namespace) -> int:
    """`ivrctl cluster up|down|status` (docs/scale-out.md)."""
    settings = Settings.from_env()
    topology = args.topology or os.environ.get("IVR_CLUSTER_TOPOLOGY")
    return _lifecycle(
        "cluster",
        args.action,
        lambda: cluster.up(settings, Path(topology) if topology else None),
        lambda: cluster.down(settings),
        lambda: cluster.status(settings),
        lambda line: " running " in line,
    )


def _run(args: argparse.Namespace) -> int:
    """`make run`: the whole service in the foreground until Ctrl-C, then a clean stop."""
    settings = Settings.from_env()
    try:
        lines = stack.up(settings)
    except stack.StackError as exc:
        print(f"stack up failed: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("\n".join(lines))
    if args.demo and (demo := call.load_demo_if_empty(settings)):
        print(f"demo subscribers loaded (empty directory; reserved test range): {', '.join(demo)}")
    print(
        "\nCall it: .venv/bin/ivrctl call     (from demo subscriber "
        f"{call.DEMO_NUMBERS[0]}: unit 1, password 24681357 twice)"
        f"\n  SIP on {settings.sip_host}:{settings.sip_port}; see README 'Placing a call'"
        f"\nCall log: {settings.calls_log}\nCtrl-C stops everything.",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        stopped = stack.down(settings)
        print(f"\nstopped: {', '.join(stopped) or 'nothing'}")
    return 0


def _sounds(args: argparse.Namespace) -> int:
    """`make sounds`: render every prompt of the catalog once per machine (cache dir)."""
    cache_dir = Settings.from_env().cache_dir
    cached = sounds.is_rendered(cache_dir) and not args.force
    out = sounds.render(cache_dir, force=args.force)
    print(f"sounds: {'cached' if cached else 'rendered'} {len(all_entries())} prompts in {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivrctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_stack = sub.add_parser("stack", help="start, stop or inspect the local stack")
    p_stack.add_argument("action", choices=["up", "down", "status"])
    p_stack.set_defaults(func=_stack)
    p_cluster = sub.add_parser("cluster", help="the scale-out topology (Kamailio, N Asterisk…)")
    p_cluster.add_argument("action", choices=["up", "down", "status"])
    p_cluster.add_argument("--topology", help="JSON topology file (default: built-in)")
    p_cluster.set_defaults(func=_cluster)
    p_run = sub.add_parser("run", help="the whole service in the foreground")
    p_run.add_argument(
        "--demo", action="store_true",
        help="load demo subscribers of the reserved test range if the directory is empty",
    )  # fmt: skip
    p_run.set_defaults(func=_run)
    p_serve = sub.add_parser("serve", help="the FastAGI server alone, in the foreground")
    p_serve.set_defaults(func=lambda _a: serve.main([]))
    sub.add_parser("api", help="the login service (HTTP/JSON) in the foreground (docs/api.md)")
    p_sounds = sub.add_parser("sounds", help="render the prompts from the catalog (cached)")
    p_sounds.add_argument("--force", action="store_true", help="render even when cached")
    p_sounds.set_defaults(func=_sounds)
    store_cli.register(sub)
    calls_live.register(calls_tail.register(sub))
    load.register(sub)
    call.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["api"]:  # the login service parses its own options (login/serve.py)
        from login.serve import main as api_main  # noqa: PLC0415

        return api_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # bad settings or input: a clear message, not a traceback
        print(f"ivrctl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
