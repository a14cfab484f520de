"""The reserved test range: subscribers that load runs and demos import and remove.

Numbers 0690000000-0690099999 are reserved for tests of a deployment (`ivrctl load`,
`ivrctl call`, `make run`'s demo subscribers). Never assign them to a real line: `ivrctl load`
deletes what it imported in this range, with the store's records and limits of those numbers.
Each number is its own contract's line (unit 1, "line", sets that number's password).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ivr.config.settings import Settings
from ivr.tools.plan import in_range
from store.credentials import CredentialStore
from store.directory import Directory, migrate
from store.importer import import_csv
from store.pepper import load
from store.redisconn import connect

T = TypeVar("T")


def import_numbers(settings: Settings, numbers: Sequence[str]) -> int:
    """Each number as its own contract's active line (one transaction); returns the count."""
    return import_lines(settings, [(n, n) for n in numbers])


def import_lines(settings: Settings, lines: Sequence[tuple[str, str]]) -> int:
    """(contract number, number) rows as active lines, in one transaction (a contract's own
    number must be among its rows); returns the count."""
    if not all(in_range(c) and in_range(n) for c, n in lines):
        raise ValueError("only numbers of the reserved test range are imported here")
    migrate(settings.database_url)
    directory = Directory.from_url(settings.database_url)
    fd, name = tempfile.mkstemp(prefix="ivr-testrange-", suffix=".csv")  # 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write("contract_number,number,active\n")
            f.writelines(f"{c},{n},1\n" for c, n in lines)
        return import_csv(directory.engine, Path(name)).numbers
    finally:
        os.unlink(name)
        directory.close()


def remove_numbers(settings: Settings, numbers: Sequence[str]) -> None:
    """Delete the numbers from the directory and every store record of theirs."""
    numbers = [n for n in numbers if in_range(n)]
    directory = Directory.from_url(settings.database_url)
    try:
        directory.remove(numbers)
    finally:
        directory.close()
    pepper = load(settings.pepper_file)

    async def forget(redis) -> None:  # type: ignore[no-untyped-def]
        store = CredentialStore(redis, pepper)
        for number in numbers:
            await store.forget(number)

    with_redis(settings, forget)


def load_demo_if_empty(settings: Settings, numbers: Sequence[str]) -> list[str]:
    """`make run` only: the demo subscribers, when the directory holds no number at all."""
    migrate(settings.database_url)
    directory = Directory.from_url(settings.database_url)
    try:
        if not directory.is_empty():
            return []
    finally:
        directory.close()
    import_numbers(settings, numbers)
    return list(numbers)


def with_redis(settings: Settings, use: Callable[..., Awaitable[T]]) -> T:
    async def main() -> T:
        redis = connect(settings.redis_url, password=settings.redis_password())
        try:
            return await use(redis)
        finally:
            await redis.aclose()

    return asyncio.run(main())


def verify_all(settings: Settings, passwords: dict[str, str]) -> dict[str, str]:
    """The web site's login check for each number: number -> ok/wrong/none/..."""
    pepper = load(settings.pepper_file)

    async def use(redis) -> dict[str, str]:  # type: ignore[no-untyped-def]
        store = CredentialStore(redis, pepper)
        gate = asyncio.Semaphore(8)

        async def one(number: str, password: str) -> tuple[str, str]:
            async with gate:
                outcome = await store.verify(number, password, actor="ivrctl-load")
                return number, outcome.value

        return dict(await asyncio.gather(*(one(n, p) for n, p in passwords.items())))

    return with_redis(settings, use)
