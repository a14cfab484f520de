"""Every CredentialStore operation and outcome against the private Redis."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from store import kdf, keys
from store.credentials import CredentialStore
from store.kdf import Argon2idParams
from store.types import TpwState, Unit, VerifyOutcome
from tests.store.conftest import DAY, FAST_KDF, PEPPER, PW, PW2, PW_WRONG, T0, FakeClock

N = "0664806001"
C = "0664806000"


async def set_pw(
    store: CredentialStore,
    password: str = PW,
    number: str = N,
    unit: Unit = Unit.NUMBER,
    call_id: str = "call-1",
) -> None:
    await store.set_temporary(
        number, password, unit=unit, contract_number=C, set_by=C, call_id=call_id
    )


async def test_set_then_show(store: CredentialStore) -> None:
    await set_pw(store)
    record = await store.show(N)
    assert record is not None
    assert (record.number, record.unit, record.contract_number) == (N, Unit.NUMBER, C)
    assert (record.set_by, record.call_id, record.failures) == (C, "call-1", 0)
    assert record.state is TpwState.VALID
    assert record.created_at == datetime.fromtimestamp(T0, tz=UTC)
    assert record.expires_at - record.created_at == timedelta(hours=24)
    assert record.created_at.utcoffset() == timedelta(0)


async def test_show_none_and_verify_none(store: CredentialStore) -> None:
    assert await store.show(N) is None
    assert await store.verify(N, PW) is VerifyOutcome.NONE


BAD_PASSWORDS = ["1234567", "123456789", "abcdefgh", "1234 678", "１２３４５６７８", ""]


@pytest.mark.parametrize("bad", BAD_PASSWORDS)
async def test_set_refuses_non_8_digit_password_without_echo(
    store: CredentialStore, bad: str
) -> None:
    with pytest.raises(ValueError) as info:
        await set_pw(store, bad)
    assert not bad or bad not in str(info.value)
    assert await store.show(N) is None


async def test_verify_ok_and_wrong_with_reset(store: CredentialStore) -> None:
    await set_pw(store)
    assert await store.verify(N, PW_WRONG) is VerifyOutcome.WRONG
    assert await store.verify(N, PW_WRONG) is VerifyOutcome.WRONG
    assert (await store.show(N)).failures == 2  # type: ignore[union-attr]
    assert await store.verify(N, PW) is VerifyOutcome.OK
    assert (await store.show(N)).failures == 0  # type: ignore[union-attr]
    # the count starts again: two more wrong ones do not lock
    assert await store.verify(N, PW_WRONG) is VerifyOutcome.WRONG
    assert await store.verify(N, PW_WRONG) is VerifyOutcome.WRONG
    assert await store.verify(N, PW) is VerifyOutcome.OK


async def test_third_wrong_locks_and_stays_locked(store: CredentialStore, redis: Redis) -> None:
    await set_pw(store)
    outcomes = [await store.verify(N, PW_WRONG) for _ in range(3)]
    assert outcomes == [VerifyOutcome.WRONG, VerifyOutcome.WRONG, VerifyOutcome.LOCKED]
    assert await store.verify(N, PW) is VerifyOutcome.LOCKED  # even the right one
    record = await store.show(N)
    assert record is not None and record.state is TpwState.LOCKED and record.failures == 3
    assert await redis.exists(keys.tpw_verifier(N)) == 0  # the verifier is gone


async def test_expiry_after_exactly_24h(
    store: CredentialStore, clock: FakeClock, redis: Redis
) -> None:
    await set_pw(store)
    clock.advance(DAY - 0.001)
    assert await store.verify(N, PW) is VerifyOutcome.OK
    clock.advance(0.001)
    assert (await store.show(N)).state is TpwState.EXPIRED  # type: ignore[union-attr]
    assert await store.verify(N, PW) is VerifyOutcome.EXPIRED
    assert await redis.exists(keys.tpw_verifier(N)) == 0
    assert await redis.exists(keys.tpw(N)) == 1  # the record is kept


async def test_record_kept_seven_days_after_expiry(
    store: CredentialStore, clock: FakeClock, redis: Redis
) -> None:
    await set_pw(store)
    ttl_ms = await redis.pttl(keys.tpw(N))
    assert 8 * DAY * 1000 - 5000 < ttl_ms <= 8 * DAY * 1000
    clock.advance(DAY + 7 * DAY - 1)
    assert (await store.show(N)).state is TpwState.EXPIRED  # type: ignore[union-attr]
    clock.advance(1)
    assert await store.show(N) is None
    assert await store.verify(N, PW) is VerifyOutcome.NONE
    assert await redis.exists(keys.tpw(N)) == 0


async def test_locked_record_kept_seven_days_from_invalidation(
    store: CredentialStore, clock: FakeClock, redis: Redis
) -> None:
    await set_pw(store)
    clock.advance(3600)
    for _ in range(3):
        await store.verify(N, PW_WRONG)
    assert 7 * DAY * 1000 - 5000 < await redis.pttl(keys.tpw(N)) <= 7 * DAY * 1000
    clock.advance(DAY)  # past the 24 h validity: still reported as locked, not expired
    assert (await store.show(N)).state is TpwState.LOCKED  # type: ignore[union-attr]
    assert await store.verify(N, PW) is VerifyOutcome.LOCKED
    clock.advance(6 * DAY)
    assert await store.show(N) is None


async def test_new_set_replaces_locked_and_old_password(store: CredentialStore) -> None:
    await set_pw(store)
    for _ in range(3):
        await store.verify(N, PW_WRONG)
    await set_pw(store, PW2, unit=Unit.ADMIN_USER, call_id="call-2")
    record = await store.show(N)
    assert record is not None
    assert (record.state, record.failures, record.unit, record.call_id) == (
        TpwState.VALID,
        0,
        Unit.ADMIN_USER,
        "call-2",
    )
    assert await store.verify(N, PW) is VerifyOutcome.WRONG
    assert await store.verify(N, PW2) is VerifyOutcome.OK


async def test_consume(store: CredentialStore, redis: Redis) -> None:
    assert await store.consume(N) is False
    await set_pw(store)
    assert await store.consume(N) is True
    assert await store.verify(N, PW) is VerifyOutcome.NONE
    assert (await store.show(N)).state is TpwState.CONSUMED  # type: ignore[union-attr]
    assert await redis.exists(keys.tpw_verifier(N)) == 0
    assert await store.consume(N) is False


async def test_consume_expired_is_refused(store: CredentialStore, clock: FakeClock) -> None:
    await set_pw(store)
    clock.advance(DAY)
    assert await store.consume(N) is False
    assert (await store.show(N)).state is TpwState.EXPIRED  # type: ignore[union-attr]


async def test_clear(store: CredentialStore) -> None:
    assert await store.clear(N, operator="alice") is False
    await set_pw(store)
    assert await store.clear(N, operator="alice") is True
    assert await store.show(N) is None
    assert await store.verify(N, PW) is VerifyOutcome.NONE


async def test_contract_unit_follows_latest_set(store: CredentialStore, clock: FakeClock) -> None:
    assert await store.contract_unit(C) is None
    await set_pw(store, unit=Unit.NUMBER)
    assert await store.contract_unit(C) is Unit.NUMBER
    clock.advance(60)
    await set_pw(store, number=C, unit=Unit.LINE)
    assert await store.contract_unit(C) is Unit.LINE


async def test_kdf_params_stored_per_record(redis: Redis, clock: FakeClock) -> None:
    """Raising the cost later keeps older records verifiable."""
    old = CredentialStore(redis, PEPPER, clock=clock, kdf=FAST_KDF)
    await set_pw(old)
    new = CredentialStore(redis, PEPPER, clock=clock)
    assert await redis.hget(keys.tpw(N), "kdf") == kdf.to_json(FAST_KDF).encode()
    assert await new.verify(N, PW) is VerifyOutcome.OK
    await set_pw(new, PW2)
    stored = kdf.from_json((await redis.hget(keys.tpw(N), "kdf")).decode())
    assert stored == Argon2idParams() and stored.memory_kib == 19 * 1024
    assert await old.verify(N, PW2) is VerifyOutcome.OK


async def test_a_planted_costly_kdf_is_refused_without_deriving(
    store: CredentialStore, redis: Redis
) -> None:
    await set_pw(store)
    await redis.hset(keys.tpw(N), "kdf", '{"alg":"hmac-sha256+argon2id","memory_kib":4194304}')
    with pytest.raises(ValueError, match="KDF parameters"):
        await store.verify(N, PW)


async def test_other_pepper_never_matches(
    redis: Redis, store: CredentialStore, clock: FakeClock
) -> None:
    await set_pw(store)
    other = CredentialStore(redis, bytes(reversed(PEPPER)), clock=clock, kdf=FAST_KDF)
    assert await other.verify(N, PW) is VerifyOutcome.WRONG


async def test_injected_validity(redis: Redis, clock: FakeClock) -> None:
    short = CredentialStore(redis, PEPPER, clock=clock, kdf=FAST_KDF, validity_s=60)
    await set_pw(short)
    clock.advance(60)
    assert await short.verify(N, PW) is VerifyOutcome.EXPIRED


async def test_constructor_refuses_short_pepper_and_bad_limits(redis: Redis) -> None:
    with pytest.raises(ValueError):
        CredentialStore(redis, b"short")
    with pytest.raises(ValueError):
        CredentialStore(redis, PEPPER, validity_s=0)


async def test_malformed_number_is_refused(store: CredentialStore) -> None:
    with pytest.raises(ValueError):
        await store.verify("06{x}", PW)
    with pytest.raises(ValueError):
        await set_pw(store, number="0664 806")


async def test_a_timer_hook_sees_the_kdf_apart_from_each_redis_round_trip(
    redis: Redis, clock: FakeClock
) -> None:
    """The hook a service times its work with: every part named, entered and left in order."""
    seen: list[str] = []

    @contextlib.contextmanager
    def timer(operation: str):
        seen.append(operation)
        yield
        seen.append("/" + operation)

    timed = CredentialStore(redis, PEPPER, clock=clock, kdf=FAST_KDF, timer=timer)
    await set_pw(timed)
    assert seen == ["kdf", "/kdf", "redis_set", "/redis_set"]
    seen.clear()
    assert await timed.verify(N, PW) is VerifyOutcome.OK
    assert seen == ["redis_verify", "/redis_verify", "kdf", "/kdf", "redis_verify", "/redis_verify"]
    seen.clear()
    await timed.show(N)
    await timed.consume(N)
    await timed.clear(N, operator="ops")
    assert seen == ["redis_show", "/redis_show", "redis_consume", "/redis_consume"] + [
        "redis_clear",
        "/redis_clear",
    ]
