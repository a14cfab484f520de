"""Only our Asterisk drives a call: allow-list, shared secret in the AGI URL, a cap on calls.

Each test is the attack itself over a real socket: a refused peer gets no command at all
(a call over the cap only learns it is busy, so the dialplan tries the next server). Every
refusal reaches `on_refused` with its reason: the service counts it.
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
    refusals: list[str] = []
    ran, server = await recording_handler_server(
        make_server, secret=SECRET, on_refused=refusals.append
    )
    for env in (env_bytes(), secured_env("0" * 32), secured_env(SECRET[:-1])):
        with capture_logs() as logs:
            fake = await FakeAsterisk.connect(server.port, env)
            await fake.expect_refused()
        refused = [e for e in logs if e["event"] == "agi.refused"]
        assert [e["reason"] for e in refused] == ["secret"]
        assert SECRET not in repr(logs) and "0" * 32 not in repr(logs)
    assert ran == []
    assert refusals == ["secret"] * 3


async def test_with_the_secret_the_call_runs(make_server: ServerFactory) -> None:
    ran, server = await recording_handler_server(make_server, secret=SECRET)
    fake = await FakeAsterisk.connect(server.port, secured_env(SECRET))
    await fake.expect("ANSWER", b"200 result=0\n")
    await fake.expect_eof()
    assert ran == ["0612345678"]


async def test_address_outside_the_allow_list_is_refused(make_server: ServerFactory) -> None:
    refusals: list[str] = []
    ran, server = await recording_handler_server(
        make_server, allow=("192.0.2.0/24",), on_refused=refusals.append
    )
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        await fake.expect_refused()
    assert [(e["reason"], e["address"]) for e in logs if e["event"] == "agi.refused"] == [
        ("address", "127.0.0.1")
    ]
    assert ran == []
    assert refusals == ["address"]


async def test_calls_beyond_the_cap_are_passed_on_busy(make_server: ServerFactory) -> None:
    """Beyond the cap: IVR_AGI_BUSY set, then FAILURE (AGISTATUS=FAILURE: the dialplan's next
    server); the hangup handler's report still runs, and a freed place takes calls again."""
    release = asyncio.Event()
    refusals: list[str] = []
    reports: list[str] = []

    async def handler(call: AgiCall) -> None:
        await call.command("ANSWER")
        await release.wait()

    async def report(call: AgiCall) -> None:
        reports.append(call.env.uniqueid)

    server = await make_server(
        {"tmp-password": handler, "call-end": report},
        max_calls=1,
        uncapped=("call-end",),
        busy_variable=("IVR_AGI_BUSY", "1"),
        on_refused=refusals.append,
    )
    first = await FakeAsterisk.connect(server.port, env_bytes())
    await first.expect("ANSWER", b"200 result=0\n")
    with capture_logs() as logs:
        second = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="2"))
        await second.expect('SET VARIABLE "IVR_AGI_BUSY" "1"', b"200 result=1\n")
        assert await second.line() == "FAILURE"
        await second.expect_eof()
    assert [(e["reason"], e["uniqueid"]) for e in logs if e["event"] == "agi.refused"] == [
        ("capacity", "2")
    ]
    assert refusals == ["capacity"]
    end = await FakeAsterisk.connect(server.port, env_bytes("call-end", uniqueid="2"))
    await end.expect_eof()
    assert reports == ["2"]  # the report is never refused: it keeps the call log exact
    release.set()
    await first.expect_eof()
    third = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="3"))
    await asyncio.wait_for(third.expect("ANSWER", b"200 result=0\n"), WAIT)
    release.set()
    assert refusals == ["capacity"]


async def test_a_call_gone_while_refused_at_the_cap_gets_nothing_more(
    make_server: ServerFactory,
) -> None:
    release = asyncio.Event()

    async def handler(call: AgiCall) -> None:
        await call.command("ANSWER")
        await release.wait()

    server = await make_server(
        {"tmp-password": handler}, max_calls=1, busy_variable=("IVR_AGI_BUSY", "1")
    )
    first = await FakeAsterisk.connect(server.port, env_bytes())
    await first.expect("ANSWER", b"200 result=0\n")
    second = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="2"))
    await second.expect('SET VARIABLE "IVR_AGI_BUSY" "1"', b"511 Command Not Permitted\n")
    await second.expect_eof()  # no FAILURE line for a channel that is gone
    release.set()
