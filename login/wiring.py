"""Connect the service to its parts: tokens, Redis, pepper, directory, limits."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from login.auth import Tokens
from login.metrics import Metrics
from login.ratelimit import Limit, RateLimiter
from login.service import LoginService
from login.settings import ApiSettings
from store.accounts import AccountStore
from store.directory import AsyncDirectory, Directory
from store.pepper import load
from store.redisconn import connect


def redis_password(path: Path) -> str | None:
    """The stack's Redis password file (0600), or None when there is none (external Redis)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise ValueError(f"{path}: mode {mode:04o} lets others read it; chmod 600 {path}")
    return path.read_text(encoding="utf-8").strip() or None


def limits(settings: ApiSettings) -> tuple[Limit, Limit]:
    """(per number, per client) from the settings; a rate of 0 turns a limit off."""
    rate = settings.client_rate
    return (
        Limit(settings.number_burst, settings.number_refill_s),
        Limit(settings.client_burst, 1 / rate if rate > 0 else 0),
    )


@asynccontextmanager
async def connect_all(
    settings: ApiSettings, metrics: Metrics
) -> AsyncIterator[tuple[LoginService, Tokens, RateLimiter, Callable[[], Awaitable[Any]]]]:
    tokens = Tokens.load(settings.tokens_file)
    redis = connect(settings.redis_url, password=redis_password(settings.redis_password_file))
    directory = Directory.from_url(settings.database_url)
    try:
        store = AccountStore(  # a failover keeps the counts exact (docs/scale-out.md)
            redis,
            load(settings.pepper_file),
            replicas=settings.redis_replicas,
            replica_timeout_ms=settings.redis_replica_timeout_ms,
        )
        per_number, per_client = limits(settings)
        limiter = RateLimiter(redis, per_number=per_number, per_client=per_client)
        service = LoginService(store, limiter, metrics, AsyncDirectory(directory))
        yield service, tokens, limiter, redis.ping
    finally:
        await redis.aclose()
        directory.close()


__all__ = ["connect_all"]
