"""A throw-away PostgreSQL database for a benchmark run: created, yielded, dropped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from store.db import make_engine


@contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """The URL of a new database next to server_url's; dropped afterwards (even if in use)."""
    name = f"ivr_bench_{secrets.token_hex(4)}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
