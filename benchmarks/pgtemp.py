"""A throw-away PostgreSQL database for a benchmark run: created, yielded, dropped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from store.db import create_database, drop_database


@contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """The URL of a new database next to server_url's; dropped afterwards (even if in use)."""
    url, name = create_database(server_url, f"ivr_bench_{secrets.token_hex(4)}")
    try:
        yield url
    finally:
        drop_database(server_url, name)
