"""Drain: a stopping FastAGI server refuses new connections and lets live calls finish."""

from __future__ import annotations

import asyncio

import pytest

from agi.server import AgiCall
from tests.agi.fake_asterisk import WAIT, FakeAsterisk, ServerFactory, env_bytes


async def test_drain_refuses_new_calls_and_lets_the_live_one_finish(
    make_server: ServerFactory,
) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(call: AgiCall) -> None:
        started.set()
        await release.wait()
        await call.command("STREAM FILE", "tpw/done", "")
        finished.set()

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await asyncio.wait_for(started.wait(), WAIT)
    drain = asyncio.create_task(server.close(drain_s=WAIT))
    await asyncio.sleep(0)  # one turn: close() shuts the listener before its first wait
    assert not server.listening
    with pytest.raises(OSError):  # what makes Asterisk's AGI() FAILURE: the next server
        await asyncio.open_connection("127.0.0.1", server.port)
    assert not drain.done()  # still waiting for the live call
    release.set()
    await fake.expect('STREAM FILE "tpw/done" ""', b"200 result=0 endpos=100\n")
    assert await asyncio.wait_for(drain, WAIT) == 0
    assert finished.is_set()
    await fake.expect_eof()


async def test_drain_is_bounded_and_cancels_what_is_left(make_server: ServerFactory) -> None:
    async def waits_for_a_key(call: AgiCall) -> None:
        await call.command("WAIT FOR DIGIT", -1)  # Asterisk never answers it

    server = await make_server({"tmp-password": waits_for_a_key})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    assert await fake.line() == 'WAIT FOR DIGIT "-1"'
    assert await asyncio.wait_for(server.close(drain_s=0.2), WAIT) == 1  # cancelled at 0.2 s
    assert server.active_calls == 0
    await fake.expect_eof()


async def test_drain_with_no_call_returns_at_once(make_server: ServerFactory) -> None:
    server = await make_server({})
    assert await asyncio.wait_for(server.close(drain_s=60), 1.0) == 0
    assert not server.listening
