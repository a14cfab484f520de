"""Redis clients with timeouts on every wait, and one mapping of Redis failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.types import StoreUnavailable

TIMEOUT_S = 5.0


def connect(
    url: str, *, password: str | None = None, timeout_s: float = TIMEOUT_S
) -> aioredis.Redis:
    """An asyncio client whose connects and replies all time out (no call hangs forever).

    password: sent with AUTH when given (from a 0600 file, never in the URL on a command line).
    """
    extra = {"password": password} if password is not None else {}
    return aioredis.Redis.from_url(
        url,
        **extra,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        decode_responses=False,
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
