"""The real password in real Redis: login outcomes, the change, 60 days, 10 strikes."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from store import keys
from store.accounts import AccountStore, Credential, LoginOutcome
from store.kdf import derivations_total
from store.types import TpwState, Unit
from tests.store.conftest import DAY, FAST_KDF, PEPPER, PW, PW2, FakeClock

N = "0664807101"
REAL, REAL2 = "Kx7pQ2mZ", "Wq4nR8tYb3"


@pytest.fixture
def accounts(redis: Redis, clock: FakeClock) -> AccountStore:
    return AccountStore(redis, PEPPER, clock=clock, kdf=FAST_KDF)


async def _set(store: AccountStore, number: str = N, password: str = PW) -> None:
    await store.set_temporary(
        number, password, unit=Unit.LINE, contract_number=number, set_by=number, call_id="c1"
    )


async def test_temporary_password_must_change_and_change_consumes_it(accounts):
    await _set(accounts)
    first = await accounts.login(N, PW)
    assert (first.outcome, first.credential) == (LoginOutcome.MUST_CHANGE, Credential.TEMPORARY)
    changed = await accounts.change(N, PW, REAL)
    assert changed.outcome == "changed" and changed.expires_at is not None
    record = await accounts.show(N)
    assert record is not None and record.state is TpwState.CONSUMED
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.WRONG  # now checks the real one
    ok = await accounts.login(N, REAL)
    assert (ok.outcome, ok.credential) == (LoginOutcome.OK, Credential.PASSWORD)
    events = [(e.event, e.outcome) for e in await accounts.audit(N)]
    i = events.index(("change", "changed"))
    assert events[i + 1] == ("consume", "consumed")  # written by the same script


async def test_wrong_current_password_counts_and_changes_nothing(accounts):
    await _set(accounts)
    refused = await accounts.change(N, PW2, REAL)
    assert (refused.outcome, refused.tries_left) == ("wrong", 2)
    assert await accounts.show_account(N) is None
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.MUST_CHANGE


async def test_real_password_locks_after_ten_and_answers_locked(accounts):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    lefts = [(await accounts.login(N, "Zz9yXx8w", actor="t")).tries_left for _ in range(9)]
    assert lefts == list(range(9, 0, -1))
    assert (await accounts.login(N, "Zz9yXx8w")).outcome is LoginOutcome.LOCKED
    assert (await accounts.login(N, REAL)).outcome is LoginOutcome.LOCKED
    shown = await accounts.show_account(N)
    assert shown is not None and (shown.state, shown.failures) == ("locked", 10)
    # a dial-in gives a way back in: the temporary password is checked first
    await _set(accounts, password=PW2)
    assert (await accounts.login(N, PW2)).outcome is LoginOutcome.MUST_CHANGE
    assert (await accounts.change(N, PW2, REAL2)).outcome == "changed"
    assert (await accounts.login(N, REAL2)).outcome is LoginOutcome.OK


async def test_a_right_entry_resets_the_count(accounts):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    for _ in range(9):
        await accounts.login(N, "Zz9yXx8w")
    assert (await accounts.login(N, REAL)).outcome is LoginOutcome.OK
    assert (await accounts.login(N, "Zz9yXx8w")).tries_left == 9


async def test_real_password_ages_after_sixty_days_and_must_change(accounts, clock):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    clock.advance(60 * DAY - 1)
    assert (await accounts.login(N, REAL)).outcome is LoginOutcome.OK
    clock.advance(1)
    aged = await accounts.login(N, REAL)
    assert (aged.outcome, aged.credential) == (LoginOutcome.MUST_CHANGE, Credential.PASSWORD)
    assert (await accounts.show_account(N)).state == "aged"  # type: ignore[union-attr]
    assert (await accounts.change(N, REAL, REAL2)).outcome == "changed"
    assert (await accounts.login(N, REAL2)).outcome is LoginOutcome.OK


async def test_outcomes_without_anything_to_check(accounts, clock):
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.NONE
    await _set(accounts)
    clock.advance(DAY)
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.EXPIRED
    await _set(accounts)
    for _ in range(2):
        assert (await accounts.login(N, PW2)).outcome is LoginOutcome.WRONG
    assert (await accounts.login(N, PW2)).outcome is LoginOutcome.LOCKED
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.LOCKED
    await _set(accounts)
    await accounts.consume(N)
    assert (await accounts.login(N, PW)).outcome is LoginOutcome.NONE


async def test_every_answer_costs_one_derivation(accounts):
    await _set(accounts)
    before = derivations_total()
    await accounts.login(N, PW2)  # wrong
    await accounts.login("0664807199", PW)  # none: a dummy derivation
    await accounts.change(N, PW, REAL)  # the current one, then the new one
    assert derivations_total() - before == 4


async def test_simultaneous_wrong_logins_count_exactly_ten(accounts):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    results = await asyncio.gather(*(accounts.login(N, "Zz9yXx8w") for _ in range(40)))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(LoginOutcome.WRONG) == 9
    assert outcomes.count(LoginOutcome.LOCKED) == 31


async def test_change_racing_a_new_temporary_password_checks_again(accounts, redis):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    await _set(accounts, password=PW2)  # the subscriber dialled in meanwhile
    refused = await accounts.change(N, REAL, REAL2)  # the temporary one is checked now
    assert refused.outcome == "wrong"
    assert (await accounts.login(N, REAL)).outcome is LoginOutcome.WRONG


async def test_operator_clear_and_no_secret_in_redis(accounts, redis):
    await _set(accounts)
    await accounts.change(N, PW, REAL)
    shown = await accounts.show_account(N)
    assert shown is not None and set(shown.to_json()) == {
        "number", "set_by", "created_at", "expires_at", "failures", "state"
    }  # fmt: skip
    dump = b""
    async for key in redis.scan_iter():
        dump += key + repr(await redis.dump(key)).encode()
    assert REAL.encode() not in dump and PW.encode() not in dump
    assert await accounts.clear_account(N, operator="alice")
    assert not await accounts.clear_account(N, operator="alice")
    assert await redis.exists(keys.account(N), keys.account_verifier(N)) == 0
    assert (await accounts.audit(N))[-1].details == {
        "credential": "password", "state": "none"
    }  # fmt: skip


def test_new_password_shape_is_refused_before_anything():
    with pytest.raises(ValueError) as err:
        asyncio.run(AccountStore(Redis(), PEPPER).change(N, PW, "short"))
    assert "short" not in str(err.value)
