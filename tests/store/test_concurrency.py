"""The two races: many wrong guesses at once, and a verify racing a new set."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from store import keys, scripts
from store.credentials import CredentialStore
from store.types import TpwState, Unit, VerifyOutcome
from tests.store.conftest import PW, PW2, PW_WRONG

N = "0664806001"
C = "0664806000"


async def test_fifty_simultaneous_wrong_verifies_count_three(
    store: CredentialStore, redis: Redis
) -> None:
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    outcomes = await asyncio.gather(*(store.verify(N, PW_WRONG) for _ in range(50)))
    assert outcomes.count(VerifyOutcome.WRONG) == 2
    assert outcomes.count(VerifyOutcome.LOCKED) == 48
    record = await store.show(N)
    assert record is not None and record.failures == 3 and record.state is TpwState.LOCKED
    assert await store.verify(N, PW) is VerifyOutcome.LOCKED
    assert await redis.exists(keys.tpw_verifier(N)) == 0
    counted = [
        e
        for e in await store.audit(N)
        if e.event == "verify" and e.details.get("failures") is not None
    ]
    assert [e.details["failures"] for e in counted] == ["1", "2", "3"]


class SetBetween:
    """Wraps the FINISH script: runs a new set right before the first finish executes."""

    def __init__(self, store: CredentialStore) -> None:
        self.store = store
        self.inner = store._scripts[scripts.FINISH]  # noqa: SLF001 (needs a precise interleaving)
        self.fired = 0

    async def __call__(self, **kwargs: object) -> object:
        if not self.fired:
            self.fired += 1
            await self.store.set_temporary(
                N, PW2, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-2"
            )
        return await self.inner(**kwargs)


async def test_verify_racing_a_set_never_accepts_the_old_password(
    store: CredentialStore,
) -> None:
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    racer = SetBetween(store)
    store._scripts[scripts.FINISH] = racer  # type: ignore[assignment]  # noqa: SLF001
    # the old password matched the record the verify began with; the set came first
    assert await store.verify(N, PW) is VerifyOutcome.WRONG
    assert racer.fired == 1
    assert (await store.show(N)).call_id == "call-2"  # type: ignore[union-attr]
    assert await store.verify(N, PW2) is VerifyOutcome.OK


async def test_verify_concurrent_with_sets_only_accepts_current(
    store: CredentialStore,
) -> None:
    """Free-running: a verify begun after the set of PW2 returned never accepts PW."""
    await store.set_temporary(
        N, PW, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-1"
    )
    set_done = asyncio.Event()
    late_oks: list[VerifyOutcome] = []

    async def verifier() -> None:
        for _ in range(20):
            started_after_set = set_done.is_set()
            outcome = await store.verify(N, PW)
            if started_after_set and outcome is VerifyOutcome.OK:
                late_oks.append(outcome)

    async def setter() -> None:
        await asyncio.sleep(0)
        await store.set_temporary(
            N, PW2, unit=Unit.NUMBER, contract_number=C, set_by=C, call_id="call-2"
        )
        set_done.set()

    await asyncio.gather(verifier(), verifier(), setter())
    assert late_oks == []
    record = await store.show(N)
    # the old password kept failing against the new record until it was invalidated
    assert record is not None and record.call_id == "call-2"
    assert record.state is TpwState.LOCKED
