"""The per-caller sliding-window limiter against the private Redis."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.crc import key_slot

from store import keys
from store.limits import CallLimiter, Limits
from tests.store.conftest import FakeClock

CALLER = "0664806000"
OTHER = "0312345678"


async def test_more_than_calls_per_hour_is_refused(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(calls_per_hour=3, failed_per_hour=0), clock)
    assert [await limiter.admit(CALLER) for _ in range(4)] == [True, True, True, False]
    assert await limiter.admit(OTHER) is True  # per caller


async def test_window_slides(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(calls_per_hour=2, failed_per_hour=0, window_s=3600), clock)
    assert await limiter.admit(CALLER)
    clock.advance(1800)
    assert await limiter.admit(CALLER)
    assert not await limiter.admit(CALLER)  # 3 calls in the window
    clock.advance(1800)  # the first call left the window; the refused one still counts
    assert not await limiter.admit(CALLER)
    clock.advance(3600)
    assert await limiter.admit(CALLER)


async def test_failed_calls_limit(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(calls_per_hour=0, failed_per_hour=2), clock)
    assert await limiter.admit(CALLER)
    await limiter.record_failure(CALLER)
    assert await limiter.admit(CALLER)
    await limiter.record_failure(CALLER)
    assert not await limiter.admit(CALLER)
    assert await limiter.admit(OTHER)
    clock.advance(3600)
    assert await limiter.admit(CALLER)


async def test_zero_disables_both(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(calls_per_hour=0, failed_per_hour=0), clock)
    for _ in range(30):
        await limiter.record_failure(CALLER)
        assert await limiter.admit(CALLER)
    assert await redis.exists(keys.limit_calls(CALLER), keys.limit_failures(CALLER)) == 0


async def test_concurrent_admits_are_counted_exactly(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(calls_per_hour=10, failed_per_hour=0), clock)
    results = await asyncio.gather(*(limiter.admit(CALLER) for _ in range(40)))
    assert results.count(True) == 10
    assert await redis.zcard(keys.limit_calls(CALLER)) <= 11  # bounded memory


async def test_keys_share_a_slot_and_expire(redis: Redis, clock: FakeClock) -> None:
    limiter = CallLimiter(redis, Limits(window_s=600), clock)
    await limiter.admit(CALLER)
    await limiter.record_failure(CALLER)
    assert key_slot(keys.limit_calls(CALLER).encode()) == key_slot(
        keys.limit_failures(CALLER).encode()
    )
    assert 0 < await redis.pttl(keys.limit_calls(CALLER)) <= 600_000
    assert 0 < await redis.pttl(keys.limit_failures(CALLER)) <= 600_000
