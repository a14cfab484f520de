"""Redis clients with timeouts on every wait, and one mapping of Redis failures.

A `redis+sentinel://HOST:PORT,HOST:PORT,.../SERVICE` URL asks those Sentinels for the
service's current primary on every new connection, so after a failover the IVR and the web
site follow the new primary by themselves (redis-py's Sentinel support).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.types import StoreUnavailable

TIMEOUT_S = 5.0
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


class _FencedConnection(SentinelManagedConnection):
    """A primary that refuses writes for want of replicas (NOREPLICAS) is most likely an
    old one, cut off or just resumed, that the Sentinels replaced: the connection is
    dropped, so the next one asks the Sentinels again (as redis-py does on READONLY).
    Without this, idle pooled connections keep failing until the old primary is demoted."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if not str(exc).startswith("NOREPLICAS"):
                raise
            await self.disconnect()
            raise RedisConnectionError("the primary has no replica to write to") from None


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
        connection_class=_FencedConnection,
    )  # fmt: skip


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
