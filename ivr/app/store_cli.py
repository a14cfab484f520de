"""`ivrctl subscribers …` and `ivrctl tpw …` (shared/spec/interfaces.md is the contract).

Exit codes: 0 done / ok; 1 a negative answer (wrong, locked, expired, none, bad or unreadable
CSV); 2 bad set-up or input (pepper missing, empty password); 3 the credential store or
database cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from ivr.app.settings import Settings
from store.credentials import CredentialStore
from store.directory import Directory
from store.importer import ImportRejected, import_csv
from store.migrations import migrate
from store.pepper import PepperMissing, load
from store.redisconn import connect
from store.types import StoreError, StoreUnavailable, Subscriber


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `subscribers` and `tpw` to ivrctl's sub-commands."""
    subs = subparsers.add_parser("subscribers", help="the subscriber directory")
    subs_sub = subs.add_subparsers(dest="action", required=True)
    p = subs_sub.add_parser("import", help="load a CSV (all or nothing)")
    p.add_argument("file", type=Path)
    p.set_defaults(func=_guard(cmd_import))
    p = subs_sub.add_parser("list", help="the directory, or one contract's numbers")
    p.add_argument("--contract")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_list))
    p = subs_sub.add_parser("show", help="one number's entry")
    p.add_argument("number")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_show))

    tpw = subparsers.add_parser("tpw", help="temporary passwords (the web site's store)")
    tpw_sub = tpw.add_subparsers(dest="action", required=True)
    p = tpw_sub.add_parser("verify", help="login check: ok, wrong, locked, expired or none")
    p.add_argument("number")
    p.add_argument("password", help="the password, or - to read it from stdin")
    p.set_defaults(func=_guard(cmd_verify))
    for name, func, text in (
        ("show", cmd_tpw_show, "the record as JSON (never the password)"),
        ("consume", cmd_consume, "the real password is set: stop the temporary one"),
        ("audit", cmd_audit, "the audit trail as JSON lines"),
        ("clear", cmd_clear, "remove it (recorded with the operator's name)"),
    ):
        p = tpw_sub.add_parser(name, help=text)
        p.add_argument("number")
        if name == "clear":
            p.add_argument("--operator", help="who clears it (default: $USER)")
        p.set_defaults(func=_guard(func))


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Store failures as one line on stderr and an exit code, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (PepperMissing, EmptyPassword) as exc:
            print(f"ivrctl: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # a missing CSV, a directory given as one, an unreadable file
            print(f"ivrctl: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        except ImportRejected as exc:
            for error in exc.errors:
                print(f"{args.file}:{error.line}: {error.message}", file=sys.stderr)
            print(f"ivrctl: {exc}", file=sys.stderr)
            return 1
        except StoreUnavailable as exc:
            print(f"ivrctl: credential store unavailable ({exc})", file=sys.stderr)
            return 3
        except StoreError as exc:
            print(f"ivrctl: credential store error ({exc})", file=sys.stderr)
            return 3
        except OperationalError as exc:
            print(f"ivrctl: database unavailable ({exc.orig!r})", file=sys.stderr)
            return 3

    run.__name__ = func.__name__
    return run


# --- subscribers ---------------------------------------------------------------------


def _directory() -> Directory:
    url = Settings.from_env().database_url
    migrate(url)
    return Directory.from_url(url)


def _subscriber_json(sub: Subscriber) -> dict[str, Any]:
    return {
        "number": sub.number,
        "contract_number": sub.contract_number,
        "region": sub.region,
        "active": sub.active,
        "contract_line": sub.is_contract,
    }


def _subscriber_line(sub: Subscriber) -> str:
    kind = "contract" if sub.is_contract else "additional"
    state = "active" if sub.active else "inactive"
    return f"{sub.number}  {sub.contract_number}  {sub.region or '-':<4}  {state:<8}  {kind}"


def cmd_import(args: argparse.Namespace) -> int:
    directory = _directory()
    try:
        result = import_csv(directory.engine, args.file)
    finally:
        directory.close()
    print(f"imported {result.numbers} numbers of {result.contracts} contracts from {args.file}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    directory = _directory()
    try:
        subs = directory.numbers_of(args.contract) if args.contract else directory.all()
    finally:
        directory.close()
    if args.json:
        print(json.dumps([_subscriber_json(s) for s in subs]))
    else:
        print("\n".join(_subscriber_line(s) for s in subs) or "(no numbers)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    directory = _directory()
    try:
        sub = directory.lookup(args.number)
    finally:
        directory.close()
    if sub is None:
        print("none")
        return 1
    print(json.dumps(_subscriber_json(sub)) if args.json else _subscriber_line(sub))
    return 0


# --- tpw -----------------------------------------------------------------------------


def _with_store(use: Callable[[CredentialStore], Awaitable[int]]) -> int:
    """Run one store operation with a fresh client (timeouts on every wait), then close."""
    settings = Settings.from_env()
    pepper = load(settings.pepper_file)

    async def main() -> int:
        redis = connect(settings.redis_url, password=settings.redis_password())
        try:
            return await use(CredentialStore(redis, pepper))
        finally:
            await redis.aclose()

    return asyncio.run(main())


class EmptyPassword(ValueError):
    """Nothing to check: refused before the store is asked, so no attempt is counted."""


def _read_password(raw: str) -> str:
    """`-`: from a terminal without echo, else one line of standard input."""
    if raw != "-":
        password = raw
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise EmptyPassword("empty password: nothing checked, no attempt counted")
    return password


def cmd_verify(args: argparse.Namespace) -> int:
    password = _read_password(args.password)

    async def use(store: CredentialStore) -> int:
        outcome = await store.verify(args.number, password, actor="ivrctl")
        print(outcome.value)
        return 0 if outcome.value == "ok" else 1

    return _with_store(use)


def cmd_tpw_show(args: argparse.Namespace) -> int:
    async def use(store: CredentialStore) -> int:
        record = await store.show(args.number)
        if record is None:
            print("none")
            return 1
        print(json.dumps(record.to_json()))
        return 0

    return _with_store(use)


def cmd_consume(args: argparse.Namespace) -> int:
    async def use(store: CredentialStore) -> int:
        done = await store.consume(args.number, actor="ivrctl")
        print("consumed" if done else "none")
        return 0 if done else 1

    return _with_store(use)


def cmd_clear(args: argparse.Namespace) -> int:
    operator = args.operator or os.environ.get("USER") or getpass.getuser()

    async def use(store: CredentialStore) -> int:
        done = await store.clear(args.number, operator=operator)
        print("cleared" if done else "none")
        return 0 if done else 1

    return _with_store(use)


def cmd_audit(args: argparse.Namespace) -> int:
    async def use(store: CredentialStore) -> int:
        for entry in await store.audit(args.number):
            print(json.dumps(entry.to_json()))
        return 0

    return _with_store(use)
