"""A record acknowledged by set_temporary survives kill -9 of Redis and its restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.credentials import CredentialStore
from store.redisconn import connect
from store.types import StoreUnavailable, TpwState, Unit, VerifyOutcome
from tests.store.conftest import FAST_KDF, PEPPER, PW, FakeClock
from tests.store.servers import RedisServer

N = "0664806001"
C = "0664806000"


async def test_record_survives_kill_9_and_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        clock = FakeClock()
        client = connect(server.url, timeout_s=2)
        store = CredentialStore(client, PEPPER, clock=clock, kdf=FAST_KDF)
        await store.set_temporary(
            N, PW, unit=Unit.ADMIN_USER, contract_number=C, set_by=C, call_id="call-1"
        )
        server.kill9()  # right after the acknowledgement: no graceful save
        with pytest.raises(StoreUnavailable):
            await store.show(N)
        await client.aclose()

        server.start()
        client = connect(server.url, timeout_s=2)
        store = CredentialStore(client, PEPPER, clock=clock, kdf=FAST_KDF)
        record = await store.show(N)
        assert record is not None and record.state is TpwState.VALID
        assert record.unit is Unit.ADMIN_USER
        assert await store.contract_unit(C) is Unit.ADMIN_USER
        assert [e.event for e in await store.audit(N)] == ["set"]
        assert await store.verify(N, PW) is VerifyOutcome.OK
        await client.aclose()
    finally:
        server.stop()


async def test_unreachable_redis_is_an_exception_not_an_outcome() -> None:
    from tests.store.servers import free_port

    client = connect(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
    store = CredentialStore(client, PEPPER, kdf=FAST_KDF)
    with pytest.raises(StoreUnavailable):
        await store.verify(N, PW)
    with pytest.raises(StoreUnavailable) as info:
        await store.set_temporary(
            N, PW, unit=Unit.LINE, contract_number=C, set_by=C, call_id="call-1"
        )
    assert PW not in str(info.value)
    await client.aclose()


async def test_clients_time_out_every_wait() -> None:
    client = connect("redis://127.0.0.1:1/0", timeout_s=2.5)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.5 and kwargs["socket_connect_timeout"] == 2.5
    await client.aclose()
