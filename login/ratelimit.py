"""Per-number and per-client rate limits, checked before any derivation runs.

Every login costs an Argon2id derivation (20-36 ms of CPU), so an unlimited stream of
attempts is a CPU attack on the service, and a stream for one number is a guessing attack
(the 3/10-strike locks stop it, at one derivation per try). Each limit is a GCRA bucket
in Redis (one key, one atomic script: `burst` attempts at once, then one every `interval`),
shared by every API process on the same store. A refusal says when to come back
(`Retry-After`); it costs one Redis round trip and no derivation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from store import keys
from store.redisconn import unavailable_on_error
from store.scripts import Script

# GCRA: tat is the theoretical arrival time; an attempt is admitted while tat - now is
# within the burst's tolerance. Returns 0 (admitted) or the milliseconds to wait.
GCRA = Script(
    """
local now = tonumber(now_ms)
local interval = tonumber(interval_ms)
local tolerance = interval * (tonumber(burst) - 1)
local tat = tonumber(redis.call('GET', bucket_key) or now_ms)
if tat < now then tat = now end
if tat - now > tolerance then return math.ceil(tat - tolerance - now) end
tat = tat + interval
redis.call('SET', bucket_key, tostring(tat), 'PX', math.ceil(tat - now) + 1)
return 0
""",
    keys=("bucket_key",),
    args=("now_ms", "interval_ms", "burst"),
)


@dataclass(frozen=True)
class Limit:
    burst: int
    interval_s: float  # 0: no limit


class RateLimited(Exception):
    """Over a limit; `retry_after_s` is whole seconds (the Retry-After header)."""

    def __init__(self, which: str, retry_after_s: int) -> None:
        super().__init__(f"too many attempts ({which}); retry after {retry_after_s} s")
        self.which = which
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        per_number: Limit,
        per_client: Limit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._script = redis.register_script(GCRA)
        self._per_number = per_number
        self._per_client = per_client
        self._clock = clock

    async def _take(self, key: str, limit: Limit, which: str) -> None:
        if limit.interval_s <= 0:
            return
        with unavailable_on_error("rate limit"):
            wait_ms = await self._script(
                keys=GCRA.key_list(bucket_key=key),
                args=GCRA.arg_list(
                    now_ms=int(self._clock() * 1000),
                    interval_ms=max(1, int(limit.interval_s * 1000)),
                    burst=limit.burst,
                ),
            )
        if int(wait_ms) > 0:
            raise RateLimited(which, max(1, math.ceil(int(wait_ms) / 1000)))

    async def client(self, client_id: str) -> None:
        """Count one request of the client; RateLimited when over its limit."""
        key = f"{keys.PREFIX}:apilimit:client:{{{client_id}}}"
        await self._take(key, self._per_client, "client")

    async def number(self, number: str) -> None:
        """Count one attempt that will derive for the number (its slot, beside its records)."""
        key = f"{keys.PREFIX}:apilimit:{{{keys.checked(number)}}}"
        await self._take(key, self._per_number, "number")
