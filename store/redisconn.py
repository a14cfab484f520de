"""Redis clients with timeouts on every wait, and one mapping of Redis failures.

A `redis+sentinel://HOST:PORT,HOST:PORT,.../SERVICE` URL asks those Sentinels for the
service's current primary on every new connection, so after a failover the IVR and the web
site follow the new primary by themselves (redis-py's Sentinel support).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
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
        connection_class=_Connection,
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


class NotExecuted(RedisConnectionError):
    """The primary refused the command unrun: it was demoted (READONLY) or has no replica to
    write to (NOREPLICAS). Safe to send again once the Sentinels name the primary anew."""


class _ClosedIsLost:
    """A pooled connection whose transport is already closed (the server closed it: a
    demoted primary kills its clients) is opened again (asking the Sentinels again) and the
    command sent there. Under uvloop the write on the closed transport (the idle
    connection's health-check PING, or the command) raises RuntimeError before a byte is
    sent, which redis-py passed through as is: the call ended `error_internal`."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        for attempt in (1, 2):
            try:
                return await super().send_packed_command(command, check_health)  # type: ignore[misc]
            except RuntimeError as exc:
                if "closed" not in str(exc):
                    raise
                await self.disconnect(nowait=True)  # type: ignore[attr-defined]
                if attempt == 2:
                    raise RedisConnectionError("the server closed the connection") from None


class _Connection(_ClosedIsLost, aioredis.Connection):
    """A plain URL's connection (see _ClosedIsLost)."""


class _FencedConnection(_ClosedIsLost, SentinelManagedConnection):
    """A connection to the primary the Sentinels name, asked again on every reconnect.

    A primary that refuses writes for want of replicas (NOREPLICAS) is most likely an old
    one, cut off or just resumed, that the Sentinels replaced; a demoted one answers
    READONLY. Either way the connection is dropped and NotExecuted raised, so the store may
    send the command again, and the reconnect asks the Sentinels (redis-py 8.x re-resolves
    only for new pooled connections, so a reconnect would find the demoted primary again).
    """

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if not str(exc).startswith(("NOREPLICAS", "READONLY")):
                raise
            await self.disconnect()
            raise NotExecuted(f"the primary refused: {str(exc).split()[0]}") from None
        except RedisConnectionError as exc:
            if "previous master is now a slave" in str(exc):  # redis-py's READONLY
                raise NotExecuted("the primary refused: READONLY") from None
            raise


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


_NOT_EXECUTED_BACKOFF_S = (0.05, 0.1, 0.2, 0.4, 0.8)


async def run_script(script: AsyncScript, keys: list[str], argv: list[str], client: Any) -> Any:
    """One script; sent again while the primary refuses it unrun (NotExecuted: demoted, or
    no replica to write to), about 1.5 s in all, so a failover or a handover costs a caller
    a moment. Only then: a connection lost after sending (the script may have run) or a
    WAIT's reply is never retried, so an unknown outcome stays a store error."""
    for delay in _NOT_EXECUTED_BACKOFF_S:
        try:
            return await script(keys=keys, args=argv, client=client)
        except NotExecuted:
            await asyncio.sleep(delay)  # the Sentinels announce the new primary meanwhile
    return await script(keys=keys, args=argv, client=client)


async def confirm_replicas(conn: aioredis.Redis, replicas: int, timeout_ms: int, what: str) -> None:
    """With replicas: StoreUnavailable unless that many replicas hold conn's writes (WAIT).

    A write the replicas did not confirm may survive on this primary or vanish at the next
    failover: its fate is unknown, so it is never reported as done.
    """
    if not replicas:
        return
    acked = await conn.execute_command("WAIT", replicas, timeout_ms)
    if int(acked) < replicas:
        raise StoreUnavailable(
            f"{what}: {acked} of {replicas} replicas confirmed the write within {timeout_ms} ms"
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
