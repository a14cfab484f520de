"""Verify does equal work whether or not a live password exists (issue 9, finding 5).

Measured with the default Argon2id cost against the real Redis: the median time of a
verify that finds no live password (none, consumed, locked, expired) is within 20 % of
one that checks a live one. Before the dummy derivation the former took ~0.2 ms and the
latter ~40 ms.
"""

from __future__ import annotations

import statistics
import time

from redis.asyncio import Redis

from store.credentials import CredentialStore
from store.types import Unit, VerifyOutcome
from tests.store.conftest import DAY, PEPPER, PW, PW_WRONG, FakeClock

RUNS = 11
LIVE, NONE, CONSUMED, LOCKED, EXPIRED = (f"06648070{i:02d}" for i in range(5))


async def _set(store: CredentialStore, number: str) -> None:
    await store.set_temporary(
        number, PW, unit=Unit.NUMBER, contract_number=number, set_by=number, call_id="t"
    )


async def test_verify_timing_does_not_tell_whether_a_password_exists(
    redis: Redis, clock: FakeClock
) -> None:
    store = CredentialStore(redis, PEPPER, clock=clock)  # the default (production) cost
    later = CredentialStore(redis, PEPPER, clock=FakeClock(clock.now + 2 * DAY))
    for number in (LIVE, CONSUMED, LOCKED, EXPIRED):
        await _set(store, number)
    await store.consume(CONSUMED)
    for _ in range(3):
        await store.verify(LOCKED, PW_WRONG)
    paths = {
        "live": (store, LIVE, VerifyOutcome.OK),
        "none": (store, NONE, VerifyOutcome.NONE),
        "consumed": (store, CONSUMED, VerifyOutcome.NONE),
        "locked": (store, LOCKED, VerifyOutcome.LOCKED),
        "expired": (later, EXPIRED, VerifyOutcome.EXPIRED),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(RUNS):  # interleaved, so load from other processes hits every path alike
        for name, (client, number, expected) in paths.items():
            started = time.perf_counter()
            outcome = await client.verify(number, PW)
            times[name].append(time.perf_counter() - started)
            assert outcome is expected, name
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    print({name: f"{m * 1000:.1f} ms" for name, m in medians.items()})
    live = medians["live"]
    assert live > 0.005, "the default KDF should cost milliseconds"
    for name, median in medians.items():
        assert abs(median - live) / live < 0.20, (name, medians)
