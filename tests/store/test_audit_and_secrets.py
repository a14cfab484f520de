"""The audit trail records every change with its actor; nothing in Redis holds a password."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from store import keys
from store.credentials import CredentialStore
from store.limits import CallLimiter, Limits
from store.types import Unit
from tests.store.conftest import DAY, PASSWORDS, PW, PW2, PW_WRONG, T0, FakeClock

N = "0664806001"
N2 = "0664806002"
C = "0664806000"


async def test_audit_records_each_event_in_order(store: CredentialStore, clock: FakeClock) -> None:
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    await store.verify(N, PW)
    for _ in range(3):
        await store.verify(N, PW_WRONG, actor="web-east")
    await store.set_temporary(N, PW2, unit=Unit.LINE, contract_number=C, set_by=C, call_id="call-2")
    await store.consume(N)
    await store.clear(N, operator="alice")
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-3"
    )
    clock.advance(DAY)
    await store.verify(N, PW)
    entries = await store.audit(N)
    summary = [(e.event, e.outcome) for e in entries]
    assert summary == [
        ("set", "set"),
        ("verify", "ok"),
        ("verify", "wrong"),
        ("verify", "wrong"),
        ("verify", "locked"),
        ("invalidated", "locked"),
        ("set", "set"),
        ("consume", "consumed"),
        ("clear", "cleared"),
        ("set", "set"),
        ("expired", "expired"),
        ("verify", "expired"),
    ]
    first = entries[0]
    assert (first.number, first.call_id, first.actor) == (N, "call-1", C)
    assert first.details["unit"] == "number" and first.details["replaced"] == "none"
    assert first.at == datetime.fromtimestamp(T0, tz=UTC)
    assert entries[6].details["replaced"] == "locked"
    assert entries[8].actor == "alice" and entries[8].details["state"] == "consumed"
    assert entries[2].actor == "web-east"
    assert entries[-1].at == datetime.fromtimestamp(T0 + DAY, tz=UTC)


async def test_clear_of_a_valid_one_is_audited_with_operator(store: CredentialStore) -> None:
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    assert await store.clear(N, operator="bob")
    last = (await store.audit(N))[-1]
    assert (last.event, last.outcome, last.actor, last.details["state"]) == (
        "clear",
        "cleared",
        "bob",
        "valid",
    )
    assert [e.event for e in await store.audit(N, limit=1)] == ["clear"]


async def test_audit_stream_is_capped_and_in_the_numbers_slot(
    redis: Redis, clock: FakeClock
) -> None:
    from redis.crc import key_slot

    from tests.store.conftest import FAST_KDF, PEPPER

    small = CredentialStore(redis, PEPPER, clock=clock, kdf=FAST_KDF, audit_max=10)
    for _ in range(300):
        await small.verify(N, PW)
    assert await redis.xlen(keys.audit(N)) < 300
    slots = {
        key_slot(k.encode())
        for k in (
            keys.tpw(N),
            keys.tpw_verifier(N),
            keys.audit(N),
        )
    }
    assert len(slots) == 1
    assert 0 < await redis.pttl(keys.audit(N)) <= 400 * DAY * 1000


async def _everything(redis: Redis) -> list[bytes]:
    """Every key and every value, whatever its type (strings, hashes, streams, sets)."""
    found: list[bytes] = []
    async for key in redis.scan_iter(count=500):
        found.append(key)
        kind = (await redis.type(key)).decode()
        if kind == "string":
            found.append(await redis.get(key))
        elif kind == "hash":
            for field, value in (await redis.hgetall(key)).items():
                found += [field, value]
        elif kind == "stream":
            for entry_id, fields in await redis.xrange(key):
                found.append(entry_id)
                for field, value in fields.items():
                    found += [field, value]
        elif kind == "zset":
            found += [member for member, _ in await redis.zrange(key, 0, -1, withscores=True)]
        else:
            raise AssertionError(f"unexpected key type {kind} for {key!r}")
    return found


async def test_no_password_anywhere_in_redis(
    store: CredentialStore, redis: Redis, clock: FakeClock
) -> None:
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    await store.set_temporary(
        N2, PW2, unit=Unit.ADMIN_USER, contract_number=C, set_by=N2, call_id="call-2"
    )
    await store.verify(N, PW)
    await store.verify(N, PW_WRONG)
    await store.verify(N2, PW_WRONG)
    await store.verify(N2, PW2)
    await store.consume(N2)
    await store.set_temporary(
        N2, PW_WRONG, unit=Unit.LINE, contract_number=C, set_by=C, call_id="call-3"
    )
    for _ in range(3):
        await store.verify(N, PW2)
    await store.clear(N, operator="alice")
    limiter = CallLimiter(redis, Limits(), clock)
    await limiter.admit(C)
    await limiter.record_failure(C)
    found = await _everything(redis)
    assert len(found) > 50  # the scan saw the records, verifiers, audit and limiter keys
    assert any(b":audit" in item for item in found)
    for item in found:
        for password in PASSWORDS:
            assert password.encode() not in item
            assert password.encode().hex().encode() not in item
