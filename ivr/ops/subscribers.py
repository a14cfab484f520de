"""`ivrctl subscribers import | list | show`: the subscriber directory (docs/interfaces.md).

Exit codes: 0 done; 1 a negative answer (none, bad or unreadable CSV); 2 bad input; 3 the
database cannot be reached. Imported only when such a command runs (SQLAlchemy, Alembic).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy.exc import OperationalError

from ivr.config.settings import Settings
from ivr.ops.guard import guarded
from store.directory import Directory
from store.importer import ImportRejected, import_csv
from store.migrations import migrate
from store.types import Subscriber


def main(args: argparse.Namespace) -> int:
    """The action named on the command line, its failures as one line and an exit code."""
    command = {"import": cmd_import, "list": cmd_list, "show": cmd_show}[args.action]
    try:
        return guarded(command, args)
    except ImportRejected as exc:
        for error in exc.errors:
            print(f"{args.file}:{error.line}: {error.message}", file=sys.stderr)
        print(f"ivrctl: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"ivrctl: database unavailable ({exc.orig!r})", file=sys.stderr)
        return 3


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
