"""`ivrctl tpw verify | show | consume | clear | audit`: the web site's operations.

Exit codes: 0 done / ok; 1 a negative answer (wrong, locked, expired, none); 2 bad set-up or
input (pepper missing, empty password); 3 the credential store cannot be reached. Loads
redis-py and argon2 only: no SQL (docs/benchmarks.md, "ivrctl start-up").
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable

from ivr.config.settings import Settings
from ivr.ops.guard import EmptyPassword, guarded
from store.credentials import CredentialStore
from store.pepper import load
from store.redisconn import connect


def main(args: argparse.Namespace) -> int:
    """The action named on the command line, its failures as one line and an exit code."""
    command = {
        "verify": cmd_verify,
        "show": cmd_tpw_show,
        "consume": cmd_consume,
        "clear": cmd_clear,
        "audit": cmd_audit,
    }[args.action]
    return guarded(command, args)


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
