"""The store across failovers (real Redis primary, two replicas, three Sentinels, loopback).

A wrong attempt the replicas did not confirm is a store error, not `wrong` (else a failover
could forget it and allow a fourth try); a set they did not confirm is a store error, never
完了; and three wrong logins spread over two failovers (a kill, then a freeze longer than
the failover) lock the temporary password exactly at the third.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest

from benchmarks.jepsen import rig
from benchmarks.serve_light_kdf import LightArgon2id
from ivr.deploy.procs import wait_for
from store.credentials import CredentialStore
from store.pepper import load
from store.redisconn import connect
from store.types import StoreUnavailable, Unit

N, CONTRACT = "0610000077", "0610000077"
RIGHT, WRONG = "13572468", "99990000"


@pytest.fixture
def store_rig():
    with rig.running(netns=False) as r:
        yield r


def _store(r: rig.Rig):
    redis = connect(r.url, password=r.password, timeout_s=2.0)
    store = CredentialStore(redis, load(r.dir / "pepper"), kdf=LightArgon2id(), replicas=1,
                            replica_timeout_ms=1000)  # fmt: skip
    return redis, store


def _failover(r: rig.Rig, old: rig.Node) -> rig.Node:
    """Wait until the Sentinels name another primary."""
    assert wait_for(lambda: r.primary() not in (None, old), 60.0, 0.1), "no failover in 60 s"
    new = r.primary()
    assert new is not None
    return new


def _settled(r: rig.Rig) -> None:
    """The new primary serves the replicas left (a verify then gets a confirmed answer, not
    a store error whose count may or may not have been kept)."""
    assert wait_for(r.settled, 60.0, 0.2), "the store did not settle within 60 s"


@contextlib.contextmanager
def _replicas_frozen(r: rig.Rig) -> Iterator[rig.Node]:
    """Every replica stopped (SIGSTOP) while the block runs; yields the primary."""
    primary = r.primary()
    assert primary is not None
    replicas = [n for n in r.data if n is not primary]
    for n in replicas:
        assert n.proc is not None
        os.kill(n.proc.pid, signal.SIGSTOP)
    try:
        yield primary
    finally:
        for n in replicas:
            assert n.proc is not None
            os.kill(n.proc.pid, signal.SIGCONT)


async def _answer(store: CredentialStore, password: str) -> str:
    """The verify's answer once the store answers at all (a store error counts nothing)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return (await store.verify(N, password)).value
        except StoreUnavailable:
            assert time.monotonic() < deadline, "the store did not come back"
            await asyncio.sleep(0.2)


async def _set(store: CredentialStore) -> None:
    await store.set_temporary(N, RIGHT, unit=Unit.LINE, contract_number=CONTRACT,
                              set_by=N, call_id="lockout-1")  # fmt: skip


def test_unconfirmed_writes_are_store_errors(store_rig):
    r = store_rig

    async def run() -> None:
        redis, store = _store(r)
        try:
            await _set(store)
            with _replicas_frozen(r):
                with pytest.raises(StoreUnavailable, match="replicas confirmed"):
                    await store.verify(N, WRONG)
                with pytest.raises(StoreUnavailable, match="replicas confirmed"):
                    await _set(store)
        finally:
            await redis.aclose()

    asyncio.run(run())


def test_three_strikes_lock_across_two_failovers(store_rig):
    """Three wrong logins spread over two failovers (the primary killed, then the one that
    replaced it frozen longer than the failover) lock the temporary password: each count
    was confirmed by a replica (WAIT) before the next fault. Before each fault the store
    settles, Sentinels included: each lists the surviving replica as one it could promote
    (else the second failover may wait 2 x failover-timeout per try, docs/scale-out.md)."""
    r = store_rig

    async def run() -> list[str]:
        redis, store = _store(r)
        answers = []
        try:
            await _set(store)
            answers.append(await _answer(store, WRONG))
            first = r.primary()
            assert first is not None and first.proc is not None
            os.kill(first.proc.pid, signal.SIGKILL)  # never restarted
            second = _failover(r, first)
            assert second != first
            _settled(r)
            answers.append(await _answer(store, WRONG))
            assert (await store.show(N)).failures == 2  # the count from before the failover
            assert second.proc is not None
            os.kill(second.proc.pid, signal.SIGSTOP)  # frozen longer than the failover
            try:
                third = _failover(r, second)
            finally:
                os.kill(second.proc.pid, signal.SIGCONT)
            assert third not in (first, second)
            _settled(r)
            answers.append(await _answer(store, WRONG))
            answers.append(await _answer(store, RIGHT))
        finally:
            await redis.aclose()
        return answers

    assert asyncio.run(run()) == ["wrong", "wrong", "locked", "locked"]


def test_a_primary_without_replicas_refuses_and_drops_the_connection(store_rig):
    r = store_rig

    async def run() -> None:
        redis, store = _store(r)
        try:
            await _set(store)
            with _replicas_frozen(r) as primary:
                refused = lambda: "NOREPLICAS" in r.cli(primary, "SET", "probe", "1")  # noqa: E731
                assert wait_for(refused, 10.0, 0.2), "min-replicas-to-write did not refuse"
                # the refusal drops the connection (the next one asks the Sentinels again)
                with pytest.raises(StoreUnavailable, match="NOREPLICAS"):
                    await _set(store)
        finally:
            await redis.aclose()

    asyncio.run(run())
