"""Only our Asterisk drives a call: allow-list, shared secret in the AGI URL, a cap on calls.

Each test is the attack itself over a real socket: a refused peer gets no command at all.
"""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from agi.server import AgiCall
from tests.agi.fake_asterisk import WAIT, FakeAsterisk, ServerFactory, env_bytes

SECRET = "f00dcafe" * 4


def secured_env(secret: str) -> bytes:
    return env_bytes().replace(b"\n\n", f"\nagi_arg_1: {secret}\n\n".encode())


async def recording_handler_server(make_server: ServerFactory, **kwargs: object):
    ran: list[str] = []

    async def handler(call: AgiCall) -> None:
        ran.append(call.env.callerid)
        await call.command("ANSWER")

    return ran, await make_server({"tmp-password": handler}, **kwargs)


async def test_without_the_secret_nothing_is_sent(make_server: ServerFactory) -> None:
    ran, server = await recording_handler_server(make_server, secret=SECRET)
    for env in (env_bytes(), secured_env("0" * 32), secured_env(SECRET[:-1])):
        with capture_logs() as logs:
            fake = await FakeAsterisk.connect(server.port, env)
            await fake.expect_refused()
        refused = [e for e in logs if e["event"] == "agi.refused"]
        assert [e["reason"] for e in refused] == ["secret"]
        assert SECRET not in repr(logs) and "0" * 32 not in repr(logs)
    assert ran == []


async def test_with_the_secret_the_call_runs(make_server: ServerFactory) -> None:
    ran, server = await recording_handler_server(make_server, secret=SECRET)
    fake = await FakeAsterisk.connect(server.port, secured_env(SECRET))
    await fake.expect("ANSWER", b"200 result=0\n")
    await fake.expect_eof()
    assert ran == ["0612345678"]


async def test_address_outside_the_allow_list_is_refused(make_server: ServerFactory) -> None:
    ran, server = await recording_handler_server(make_server, allow=("192.0.2.0/24",))
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        await fake.expect_refused()
    assert [(e["reason"], e["address"]) for e in logs if e["event"] == "agi.refused"] == [
        ("address", "127.0.0.1")
    ]
    assert ran == []


async def test_calls_beyond_the_cap_are_refused(make_server: ServerFactory) -> None:
    release = asyncio.Event()

    async def handler(call: AgiCall) -> None:
        await call.command("ANSWER")
        await release.wait()

    server = await make_server({"tmp-password": handler}, max_calls=1)
    first = await FakeAsterisk.connect(server.port, env_bytes())
    await first.expect("ANSWER", b"200 result=0\n")
    with capture_logs() as logs:
        second = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="2"))
        await second.expect_refused()
    assert [e["reason"] for e in logs if e["event"] == "agi.refused"] == ["capacity"]
    release.set()
    await first.expect_eof()
    third = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="3"))
    await asyncio.wait_for(third.expect("ANSWER", b"200 result=0\n"), WAIT)
    release.set()
