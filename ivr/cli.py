"""`ivrctl`: the operators' and tools' command line (docs/interfaces.md).

Argument parsing only. Each subcommand names the function that runs it as "module:function",
imported when it runs, so `ivrctl --help` loads no SQLAlchemy, Redis or SIPp tools and an
operator's command starts in well under a second (docs/benchmarks.md, "ivrctl start-up").
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr.flow.outcomes import Outcome
from ivr.tools.plan import DEFAULT_DID, DEFAULT_KEYS, DEMO_NUMBERS, ENTRY_GAP_S

Handler = Callable[[argparse.Namespace], int]


def lazy(target: str) -> Handler:
    """The handler "module:function", imported only when the command runs."""

    def run(args: argparse.Namespace) -> int:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(args)

    run.__qualname__ = target
    return run


def _run(args: argparse.Namespace) -> int:
    """`ivrctl run [--demo]`: deployment's foreground stack, with the tools' demo loader."""
    from ivr.config.settings import Settings  # noqa: PLC0415
    from ivr.deploy import lifecycle  # noqa: PLC0415

    def after_up(settings: Settings) -> list[str]:
        lines = []
        if args.demo:
            from ivr.tools.testrange import load_demo_if_empty  # noqa: PLC0415

            if demo := load_demo_if_empty(settings, DEMO_NUMBERS):
                lines.append(f"demo subscribers loaded (empty directory; reserved test range): "
                             f"{', '.join(demo)}")  # fmt: skip
        return lines + [
            "",
            f"Call it: .venv/bin/ivrctl call     (from demo subscriber {DEMO_NUMBERS[0]}: "
            "unit 1, password 24681357 twice)",
            f"  SIP on {settings.sip_host}:{settings.sip_port}; see README 'Placing a call'",
            f"Call log: {settings.calls_log}",
            "Ctrl-C stops everything.",
        ]

    return lifecycle.run(Settings.from_env(), after_up)


def _deployment(sub: Any) -> None:
    p = sub.add_parser("stack", help="start, stop or inspect the local stack")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=lazy("ivr.deploy.lifecycle:stack"))
    p = sub.add_parser("cluster", help="the scale-out topology (Kamailio, N Asterisk…)")
    p.add_argument(
        "action", choices=["up", "down", "status", "restart", "upgrade", "cut", "heal", "exec"],
        help="restart NODE / upgrade: one node / every node in turn, no call lost; "
        "cut NODE / heal NODE / exec [--node NODE] -- CMD: the netns topology's nodes",
    )  # fmt: skip
    p.add_argument("node", nargs="?", help="restart: agi-0, asterisk-1, redis-0, kamailio…")
    p.add_argument("--topology", help="JSON topology file (default: built-in)")
    p.add_argument(
        "--netns",
        action="store_true",
        help='up: each store node and FastAGI server in a namespace ("netns": 1)',
    )
    p.add_argument(
        "--node",
        dest="in_node",
        default="edge",
        help="exec: the namespace to run in (default edge: Asterisk, Kamailio)",
    )
    p.set_defaults(func=lazy("ivr.deploy.lifecycle:cluster"))
    p = sub.add_parser("agi-link", help="the FastAGI link to another host, in TLS (stunnel)")
    p.add_argument("action", choices=["up", "down", "status"])
    role = p.add_mutually_exclusive_group()
    role.add_argument("--client", dest="role", action="store_const", const="client",
                      help="the Asterisk host's end (accept on loopback)")  # fmt: skip
    role.add_argument("--server", dest="role", action="store_const", const="server",
                      help="the FastAGI host's end (connect to the FastAGI port)")  # fmt: skip
    p.add_argument("--accept", help="HOST:PORT this end listens on")
    p.add_argument("--connect", help="HOST:PORT this end connects to")
    p.set_defaults(func=lazy("ivr.deploy.lifecycle:agi_link"))
    p = sub.add_parser("run", help="the whole service in the foreground")
    p.add_argument(
        "--demo", action="store_true",
        help="load demo subscribers of the reserved test range if the directory is empty",
    )  # fmt: skip
    p.set_defaults(func=_run)
    p = sub.add_parser("serve", help="the FastAGI server alone, in the foreground")
    p.set_defaults(func=lazy("ivr.service.serve:command"))
    sub.add_parser("api", help="the login service (HTTP/JSON) in the foreground (docs/api.md)")
    p = sub.add_parser("sounds", help="render the prompts from the catalog (cached)")
    p.add_argument("--force", action="store_true", help="render even when cached")
    p.set_defaults(func=lazy("ivr.deploy.lifecycle:sounds"))


def _operators(sub: Any) -> None:
    subs = sub.add_parser("subscribers", help="the subscriber directory")
    subs_sub = subs.add_subparsers(dest="action", required=True)
    p = subs_sub.add_parser("import", help="load a CSV (all or nothing)")
    p.add_argument("file", type=Path)
    p = subs_sub.add_parser("list", help="the directory, or one contract's numbers")
    p.add_argument("--contract")
    p.add_argument("--json", action="store_true")
    p = subs_sub.add_parser("show", help="one number's entry")
    p.add_argument("number")
    p.add_argument("--json", action="store_true")
    subs.set_defaults(func=lazy("ivr.ops.subscribers:main"))

    tpw = sub.add_parser("tpw", help="temporary passwords (the web site's store)")
    tpw_sub = tpw.add_subparsers(dest="action", required=True)
    p = tpw_sub.add_parser("verify", help="login check: ok, wrong, locked, expired or none")
    p.add_argument("number")
    p.add_argument("password", help="the password, or - to read it from stdin")
    for name, text in (
        ("show", "the record as JSON (never the password)"),
        ("consume", "the real password is set: stop the temporary one"),
        ("audit", "the audit trail as JSON lines"),
        ("clear", "remove it (recorded with the operator's name)"),
    ):
        p = tpw_sub.add_parser(name, help=text)
        p.add_argument("number")
        if name == "clear":
            p.add_argument("--operator", help="who clears it (default: $USER)")
    tpw.set_defaults(func=lazy("ivr.ops.tpw:main"))

    calls = sub.add_parser("calls", help="finished calls (tail) and calls in progress")
    calls_sub = calls.add_subparsers(dest="calls_command", required=True)
    p = calls_sub.add_parser("tail", help="one readable line per finished call")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new calls")
    p.add_argument("-n", "--lines", type=int, default=10, metavar="N", help="last N calls")
    p.add_argument("--json", action="store_true", help="the call log's JSON lines, unchanged")
    p.add_argument("--outcome", choices=[str(o) for o in Outcome], help="only calls ending so")
    p.add_argument("--caller", metavar="NUMBER", help="only calls from this number")
    p.add_argument("--since", metavar="TIME", help="ISO 8601 time, or a span: 15m, 2h, 1d")
    p.set_defaults(func=lazy("ivr.ops.calls_tail:run"))
    p = calls_sub.add_parser("live", help="calls in progress now (from AMI)")
    p.add_argument("--json", action="store_true", help="one JSON object per look")
    p.add_argument("--watch", action="store_true", help="look again every --interval seconds")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds (1)")
    p.set_defaults(func=lazy("ivr.ops.calls_live:run"))


def _tools(sub: Any) -> None:
    p = sub.add_parser("load", help="N SIPp dial-ins at R/s from test subscribers")
    p.add_argument("--calls", type=int, required=True, help="calls to place")
    p.add_argument("--rate", type=float, required=True, help="new calls per second")
    p.add_argument("--target", help="HOST:PORT of the SIP service (default: the local stack)")
    p.add_argument("--did", default=DEFAULT_DID, help=f"number dialled (default {DEFAULT_DID})")
    p.add_argument("--keep", action="store_true", help="leave the test subscribers in place")
    p.add_argument(
        "--entry-gap", type=float, default=ENTRY_GAP_S,
        help=f"seconds from one entry's last key to the next entry (default {ENTRY_GAP_S})",
    )  # fmt: skip
    p.set_defaults(func=lazy("ivr.tools.load:main"))
    p = sub.add_parser("call", help="one SIPp dial-in with keys, and its transcript")
    p.add_argument(
        "--from", dest="caller", default=DEMO_NUMBERS[0],
        help=f"caller number (default: demo subscriber {DEMO_NUMBERS[0]})",
    )  # fmt: skip
    p.add_argument("--did", default=DEFAULT_DID, help=f"number dialled (default {DEFAULT_DID})")
    p.add_argument("--keys", default=DEFAULT_KEYS, help=f"key groups (default {DEFAULT_KEYS})")
    p.add_argument("--target", help="HOST:PORT of the SIP service (default: the local stack)")
    p.set_defaults(func=lazy("ivr.tools.testcall:main"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivrctl", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _deployment(sub)
    _operators(sub)
    _tools(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["api"]:  # the login service parses its own options (login/serve.py)
        from login.serve import main as api_main  # noqa: PLC0415

        return api_main(argv[1:])
    tail: list[str] = []
    if argv[:2] == ["cluster", "exec"] and "--" in argv:  # the command is not ivrctl's to parse
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    args.tail = tail
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # bad settings or input: a clear message, not a traceback
        print(f"ivrctl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
