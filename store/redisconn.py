"""Redis clients with timeouts on every wait, and one mapping of Redis failures.

A `redis+sentinel://HOST:PORT,HOST:PORT,.../SERVICE` URL asks those Sentinels for the
service's current primary on every new connection, so after a failover the IVR and the web
site follow the new primary by themselves (redis-py's Sentinel support).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.types import StoreUnavailable

TIMEOUT_S = 5.0
RETRIES = 5  # on a connection error, after a failover (failover_retry)
SENTINEL_SCHEME = "redis+sentinel"


def connect(
    url: str, *, password: str | None = None, timeout_s: float = TIMEOUT_S
) -> aioredis.Redis:
    """An asyncio client whose connects and replies all time out (no call hangs forever).

    password: sent with AUTH when given (from a 0600 file, never in the URL on a command line).
    """
    if url.startswith(SENTINEL_SCHEME + "://"):
        return connect_sentinel(url, password=password, timeout_s=timeout_s)
    extra = {"password": password} if password is not None else {}
    return aioredis.Redis.from_url(
        url,
        **extra,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """(sentinel addresses, service name, db) of redis+sentinel://H:P,H:P/SERVICE[/DB];
    a ValueError names what is wrong (never echoes a password)."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME or parts.username or parts.password:
        raise ValueError(
            f"a Sentinel URL is {SENTINEL_SCHEME}://HOST:PORT[,HOST:PORT...]/SERVICE[/DB]"
            " (the password comes from its file, not the URL)"
        )
    hosts = []
    for item in parts.netloc.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"Sentinel URL: {item!r} is not HOST:PORT")
        hosts.append((host, int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("Sentinel URL: the path is /SERVICE or /SERVICE/DB")
    return hosts, path[0], int(path[1]) if len(path) == 2 else 0


def connect_sentinel(
    url: str, *, password: str | None = None, timeout_s: float = TIMEOUT_S
) -> aioredis.Redis:
    """A client of the primary the Sentinels name now (asked again on each new connection).

    The same password authenticates to the Sentinels and to the data nodes.
    """
    hosts, service, db = parse_sentinel_url(url)
    timeouts = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    auth = {"password": password} if password is not None else {}
    sentinel = Sentinel(hosts, sentinel_kwargs={**timeouts, **auth}, **timeouts, **auth)
    return sentinel.master_for(
        service, db=db, health_check_interval=30, decode_responses=False,
        retry=failover_retry(), retry_on_error=[RedisConnectionError],
        connection_class=_PrimaryConnection,
    )  # fmt: skip


class _PrimaryConnection(SentinelManagedConnection):
    """Asks the Sentinels again on every reconnect. redis-py (8.x) re-resolves the primary
    only when the pool hands out a new connection; a command retried on its connection
    reconnects to the address it had, the demoted primary, and fails READONLY again."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)


def failover_retry() -> Retry:
    """A command that meets a demoted primary (READONLY, which redis-py turns into a
    ConnectionError after dropping the connection) or a closed one is sent again on a new
    connection, to the primary the Sentinels name then: a handover (`ivrctl cluster
    restart`) costs a caller a moment, not the password. Only connection errors: a timeout
    is not retried (5 s each would hold the call far too long). About 1.5 s in all."""
    return Retry(
        ExponentialBackoff(cap=0.8, base=0.05), RETRIES, supported_errors=(RedisConnectionError,)
    )


@contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Any Redis failure (down, timeout, refused write) becomes StoreUnavailable.

    The message names the operation and the error class, never an argument: arguments may
    carry a password verifier.
    """
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"{what}: {type(exc).__name__}: {exc}") from None
    except RedisError as exc:  # e.g. a script error: its text could echo arguments
        raise StoreUnavailable(f"{what}: {type(exc).__name__}") from None


def text(value: bytes | str | None) -> str | None:
    """Redis replies as str whichever decode_responses the injected client uses."""
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8")
