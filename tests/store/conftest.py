"""Real servers for the store tests: one durable private Redis and SQLite + PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, delete

from store.credentials import CredentialStore
from store.db import make_engine
from store.kdf import Argon2idParams
from store.migrations import migrate
from store.models import SubscriberRow
from store.redisconn import connect
from tests.store.servers import RedisServer, postgres_database

# Passwords used by the store tests: the secret scan looks for each of them in Redis.
PW = "73190482"
PW2 = "56028391"
PW_WRONG = "20864517"
PASSWORDS = (PW, PW2, PW_WRONG)
PEPPER = bytes(range(32))
# The default cost (19 MiB, 2 passes) is tested where it matters; this is quicker.
FAST_KDF = Argon2idParams(memory_kib=64, time_cost=1)
T0 = 1_750_000_000.0
DAY = 86400.0


class FakeClock:
    """A clock the tests move by hand, so 24 hours pass instantly."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(redis: Redis, clock: FakeClock) -> CredentialStore:
    return CredentialStore(redis, PEPPER, clock=clock, kdf=FAST_KDF)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty directory database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state' / 'ivr.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(delete(SubscriberRow))
    engine.dispose()
    return url


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = make_engine(sql_url)
    try:
        yield engine
    finally:
        engine.dispose()
