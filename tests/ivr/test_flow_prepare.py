"""The derivation runs while the caller keys the confirmation, and dies with the entry."""

from __future__ import annotations

import asyncio

from ivr.flow.outcomes import Outcome
from ivr.flow.ports import CallerHangup
from store.types import Unit
from tests.ivr.conftest import CONTRACT, PW, PW2, Dial
from tests.ivr.fakes import FakeStore, Later, key


async def _assert_cancelled(store: FakeStore) -> None:
    """The one derivation the flow started ends cancelled (it would wait forever)."""
    (task,) = store.prepare_tasks
    await asyncio.wait([task], timeout=5)
    assert task.cancelled()


async def test_the_derivation_starts_before_the_confirmation_is_keyed(dial: Dial) -> None:
    """The confirmation's keys arrive only once the store was asked to derive."""
    store = FakeStore()
    async with asyncio.timeout(5):  # would hang if the derivation waited for the confirmation
        call = await dial(key("1"), key(PW), Later(key(PW), store.prepare_started), store=store)
    assert call.result.outcome is Outcome.SET
    assert [(c.number, c.password, c.unit) for c in store.calls] == [(CONTRACT, PW, Unit.LINE)]
    kinds = [entry[0] for entry in call.log]
    assert kinds.index("store.prepare") < kinds.index("store.begin")
    assert len(store.prepared) == 1


async def test_a_mismatch_cancels_the_first_entrys_derivation(dial: Dial) -> None:
    store = FakeStore(prepare_gate=asyncio.Event())  # a derivation that never ends by itself
    mismatch = Later(key(PW2), store.prepare_started)
    call = await dial(key("1"), key(PW), mismatch, CallerHangup(), store=store)
    assert call.result.outcome is Outcome.ABANDONED
    await _assert_cancelled(store)
    assert store.prepared == [] and store.calls == []


async def test_a_hang_up_during_the_confirmation_cancels_the_derivation(dial: Dial) -> None:
    store = FakeStore(prepare_gate=asyncio.Event())
    call = await dial(key("1"), key(PW), Later(CallerHangup(), store.prepare_started), store=store)
    assert call.result.outcome is Outcome.ABANDONED
    await _assert_cancelled(store)
    assert store.calls == []
