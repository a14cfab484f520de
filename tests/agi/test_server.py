"""The real server on port 0 against a scripted fake Asterisk over TCP.

One test per point of "What a FastAGI server must therefore do" (fastagi-notes.md), plus
routing, start-up and robustness cases.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from structlog.testing import capture_logs

from agi.errors import AGIError, AGITimeout, CommandError, CommandFailed, HangupError, ProtocolError
from agi.server import AgiCall, AgiServer, Registry
from agi.wire import Reply
from tests.agi.fake_asterisk import WAIT, FakeAsterisk, ServerFactory, env_bytes

# 1. HANGUP lines are filtered, never taken as a reply


async def test_1_hangup_before_a_reply_is_not_the_reply(make_server: ServerFactory) -> None:
    seen: list[object] = []

    async def handler(call: AgiCall) -> None:
        seen.append(await call.command("GET VARIABLE", "IVR_STEP"))
        seen.append(call.gone)
        try:
            await call.command("NOOP")
        except HangupError as exc:
            seen.append(exc)

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await fake.expect('GET VARIABLE "IVR_STEP"', b"HANGUP\n200 result=1 (menu)\n")
    await fake.expect_eof()
    assert seen[0] == Reply(200, "1", "menu")
    assert seen[1] is True
    assert isinstance(seen[2], HangupError)


async def test_1_hangup_glued_to_environment(make_server: ServerFactory) -> None:
    seen: list[object] = []

    async def handler(call: AgiCall) -> None:
        seen.append(call.gone)
        with pytest.raises(HangupError):
            await call.command("ANSWER")
        seen.append("raised")

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes() + b"HANGUP\n")
    await fake.expect_eof()
    assert seen == [True, "raised"]


# 2. 511, (hangup), result=-1, EOF and reset → one typed hang-up; nothing more sent


@pytest.mark.parametrize(
    "ending",
    [
        b"511 Command Not Permitted on a dead channel or intercepted\n",
        b"200 result=-1 endpos=0\n",
        b"200 result=0 (hangup)\n",
        "eof",
        "reset",
    ],
)
async def test_2_every_hangup_signal_is_one_exception(
    make_server: ServerFactory, ending: bytes | str
) -> None:
    caught: list[BaseException] = []
    done = asyncio.Event()

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("STREAM FILE", "tpw/menu", "0123456789*#")
        except HangupError as exc:
            caught.append(exc)
        try:
            await call.command("STREAM FILE", "tpw/again", "")
        except HangupError as exc:
            caught.append(exc)
        assert call.gone
        done.set()

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    assert await fake.line() == 'STREAM FILE "tpw/menu" "0123456789*#"'
    if ending == "eof":
        fake.close()
    elif ending == "reset":
        fake.reset()
    else:
        assert isinstance(ending, bytes)
        await fake.send(ending)
        if ending.startswith(b"200 result=-1"):  # ambiguous: the channel's status decides
            await fake.expect("CHANNEL STATUS", b"511 Command Not Permitted on a dead channel\n")
        await fake.expect_eof()  # the second command was never sent
    await asyncio.wait_for(done.wait(), WAIT)
    assert len(caught) == 2
    assert all(isinstance(exc, HangupError) for exc in caught)


async def test_2_failed_playback_on_a_live_channel_is_not_a_hangup(
    make_server: ServerFactory,
) -> None:
    """``-1`` from STREAM FILE (e.g. a missing prompt) while the channel is up: CommandFailed."""
    caught: list[BaseException] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("STREAM FILE", "tpw/missing", "")
        except AGIError as exc:
            caught.append(exc)
        assert not call.gone
        raise caught[0]

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await fake.expect('STREAM FILE "tpw/missing" ""', b"200 result=-1 endpos=0\n")
    await fake.expect("CHANNEL STATUS", b"200 result=6\n")  # 6: up
    # the handler's failure reaches the dialplan, which plays its apology
    await fake.expect('SET VARIABLE "IVR_OUTCOME" "error_internal"', b"200 result=1\n")
    await fake.expect_eof()
    assert [type(exc) for exc in caught] == [CommandFailed]


# 3. Timeouts: environment, each command, the whole call


async def test_3_silent_client_times_out_in_environment(make_server: ServerFactory) -> None:
    server = await make_server({}, env_timeout_s=0.2)
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, b"agi_network: yes\n")
        await fake.expect_eof()
    assert [e["event"] for e in logs] == ["agi.env_timeout"]


async def test_3_command_without_reply_times_out(make_server: ServerFactory) -> None:
    caught: list[BaseException] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("GET VARIABLE", "X")
        except AGITimeout as exc:
            caught.append(exc)
            raise

    server = await make_server({"tmp-password": handler}, command_timeout_s=0.2)
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        assert await fake.line() == 'GET VARIABLE "X"'
        await fake.expect_eof()  # call treated as lost: nothing more is sent
    assert len(caught) == 1
    assert any(e["event"] == "agi.command_timeout" for e in logs)


async def test_3_call_deadline_backstop(make_server: ServerFactory) -> None:
    async def handler(call: AgiCall) -> None:
        await asyncio.Event().wait()  # a handler stuck forever

    server = await make_server({"tmp-password": handler}, max_call_s=0.2)
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        await fake.expect('SET VARIABLE "IVR_OUTCOME" "error_internal"', b"200 result=1\n")
        await fake.expect_eof()
    assert any(e["event"] == "agi.call_deadline" for e in logs)


# 4. 520 blocks read to their end; 100 skipped; (timeout) and endpos kept


async def test_4_usage_block_trying_timeout_and_endpos(make_server: ServerFactory) -> None:
    seen: list[object] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("GET DATA")
        except CommandError as exc:
            seen.append((exc.code, exc.usage))
        seen.append(await call.command("STREAM FILE", "tpw/a", "#"))
        seen.append(await call.command("WAIT FOR DIGIT", 100))

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await fake.expect(
        "GET DATA",
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        b"520 End of proper usage.\n",
    )
    await fake.expect('STREAM FILE "tpw/a" "#"', b"100 result=0 Trying...\n")
    await fake.send(b"200 result=35 endpos=17440\n")
    await fake.expect('WAIT FOR DIGIT "100"', b"200 result=0 (timeout)\n")
    await fake.expect_eof()
    assert seen[0] == (
        520,
        "Invalid command syntax.  Proper usage follows:\n"
        " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    )
    assert seen[1] == Reply(200, "35", endpos=17440)
    assert seen[2] == Reply(200, "0", "timeout", timed_out=True)


# 5. One command in flight per connection


async def test_5_one_command_in_flight(make_server: ServerFactory) -> None:
    results: list[Reply] = []

    async def handler(call: AgiCall) -> None:
        results.extend(
            await asyncio.gather(
                call.command("GET VARIABLE", "A"), call.command("GET VARIABLE", "B")
            )
        )

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    assert await fake.line() == 'GET VARIABLE "A"'
    await fake.nothing_sent_for(0.2)  # B waits for A's reply
    await fake.send(b"200 result=1 (a)\n")
    await fake.expect('GET VARIABLE "B"', b"200 result=1 (b)\n")
    await fake.expect_eof()
    assert [r.data for r in results] == ["a", "b"]


# 6. Every argument quoted; newlines refused before anything is sent


async def test_6_arguments_quoted_and_newlines_refused(make_server: ServerFactory) -> None:
    refused: list[BaseException] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("SET VARIABLE", "X", "1\nHANGUP")
        except ValueError as exc:
            refused.append(exc)
        await call.command("SET VARIABLE", "IVR_NOTE", 'say "hi" \\ bye')
        await call.command("STREAM FILE", "tpw/bye", "")

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await fake.expect('SET VARIABLE "IVR_NOTE" "say \\"hi\\" \\\\ bye"', b"200 result=1\n")
    await fake.expect('STREAM FILE "tpw/bye" ""', b"200 result=0 endpos=100\n")
    await fake.expect_eof()
    assert len(refused) == 1


# 7. Failures visible: logged (without secrets) and told to the dialplan


async def test_7_handler_error_logged_and_told_to_dialplan(make_server: ServerFactory) -> None:
    async def handler(call: AgiCall) -> None:
        await call.command("SET VARIABLE", "IVR_SECRET_TRY", "48151623")
        raise RuntimeError("bad password 48151623")

    server = await make_server({"tmp-password": handler})
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes(uniqueid="42.7"))
        await fake.expect('SET VARIABLE "IVR_SECRET_TRY" "48151623"', b"200 result=1\n")
        await fake.expect('SET VARIABLE "IVR_OUTCOME" "error_internal"', b"200 result=1\n")
        await fake.expect_eof()
    [error] = [e for e in logs if e["event"] == "agi.handler_error"]
    assert error["script"] == "tmp-password"
    assert error["uniqueid"] == "42.7"
    assert error["error"] == "RuntimeError"
    assert error["log_level"] == "error"
    assert "48151623" not in repr(logs)


async def test_7_no_outcome_sent_to_a_channel_already_gone(make_server: ServerFactory) -> None:
    async def handler(call: AgiCall) -> None:
        await call.command("NOOP")
        raise RuntimeError("after hangup")

    server = await make_server({"tmp-password": handler})
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        await fake.expect("NOOP", b"HANGUP\n200 result=0\n")
        await fake.expect_eof()
    assert any(e["event"] == "agi.handler_error" for e in logs)


# 8. Blocking work in a thread does not stall another call's replies


async def test_8_blocking_work_off_loop_does_not_stall_others(make_server: ServerFactory) -> None:
    entered, release = threading.Event(), threading.Event()
    b_done = asyncio.Event()

    def slow_hash() -> str:
        entered.set()
        assert release.wait(WAIT)
        return "hashed"

    async def slow(call: AgiCall) -> None:
        result = await asyncio.to_thread(slow_hash)
        await call.command("SET VARIABLE", "IVR_RESULT", result)

    async def quick(call: AgiCall) -> None:
        await call.command("GET VARIABLE", "B1")
        await call.command("GET VARIABLE", "B2")
        b_done.set()

    server = await make_server({"slow": slow, "quick": quick})
    a = await FakeAsterisk.connect(server.port, env_bytes("slow", "1.1"))
    assert await asyncio.to_thread(entered.wait, WAIT)  # A's handler is blocked in its thread
    b = await FakeAsterisk.connect(server.port, env_bytes("quick", "1.2"))
    await b.expect('GET VARIABLE "B1"', b"200 result=1 (x)\n")
    await b.expect('GET VARIABLE "B2"', b"200 result=1 (y)\n")
    await b.expect_eof()
    assert b_done.is_set() and not release.is_set()  # B was served while A blocked
    release.set()
    await a.expect('SET VARIABLE "IVR_RESULT" "hashed"', b"200 result=1\n")
    await a.expect_eof()


# Routing, start-up and robustness


async def test_unknown_script_logged_and_hung_up(make_server: ServerFactory) -> None:
    server = await make_server({"tmp-password": lambda call: asyncio.sleep(0)})
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes("no-such-script"))
        await fake.expect("HANGUP", b"200 result=1\nHANGUP\n")
        await fake.expect_eof()
    [event] = [e for e in logs if e["event"] == "agi.unknown_script"]
    assert event["script"] == "no-such-script"


def test_registry_refuses_duplicates() -> None:
    async def handler(call: AgiCall) -> None:
        return None

    registry = Registry({"tmp-password": handler})
    with pytest.raises(ValueError):
        registry.register("tmp-password", handler)
    with pytest.raises(ValueError):
        registry.register("/tmp-password", handler)
    with pytest.raises(ValueError):
        registry.register("", handler)
    assert registry.scripts == ("tmp-password",)
    assert registry.get("tmp-password") is handler
    assert registry.get("other") is None


@pytest.mark.parametrize("first", [env_bytes()[:40], b""], ids=["truncated", "nothing"])
async def test_client_closing_early_does_not_freeze_others(
    make_server: ServerFactory, first: bytes
) -> None:
    async def handler(call: AgiCall) -> None:
        await call.command("ANSWER")

    server = await make_server({"tmp-password": handler}, env_timeout_s=WAIT * 2)
    with capture_logs() as logs:
        early = await FakeAsterisk.connect(server.port, first)
        early.writer.write_eof()  # EOF before the blank line
        await early.expect_eof()  # the server let go of it, long before env_timeout_s
        other = await FakeAsterisk.connect(server.port, env_bytes())
        await other.expect("ANSWER", b"200 result=0\n")
        await other.expect_eof()
    assert server.active_calls == 0  # a task leaves the set before its socket closes
    assert any(e["event"] == "agi.env_truncated" for e in logs)


async def test_silent_client_does_not_block_others(make_server: ServerFactory) -> None:
    async def handler(call: AgiCall) -> None:
        await call.command("ANSWER")

    server = await make_server({"tmp-password": handler}, env_timeout_s=WAIT * 2)
    silent = await FakeAsterisk.connect(server.port)
    other = await FakeAsterisk.connect(server.port, env_bytes())
    await other.expect("ANSWER", b"200 result=0\n")
    await other.expect_eof()
    assert server.active_calls == 1  # only the silent one, still waiting for its env
    silent.close()


async def test_garbage_instead_of_environment_closes(make_server: ServerFactory) -> None:
    server = await make_server({})
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, b"GET / HTTP/1.1\r\n\r\n")
        await fake.expect_eof()
    assert [e["event"] for e in logs] == ["agi.env_invalid"]


async def test_close_cancels_calls_and_waits(make_server: ServerFactory) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def handler(call: AgiCall) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    await asyncio.wait_for(started.wait(), WAIT)
    await asyncio.wait_for(server.close(), WAIT)
    assert cancelled.is_set()
    assert server.active_calls == 0
    await fake.expect_eof()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_start_binds_port_zero() -> None:
    server = AgiServer(Registry(), "127.0.0.1", 0)
    port = await server.start()
    try:
        assert port > 0 and server.port == port
    finally:
        await server.close()


async def test_garbage_reply_is_a_protocol_error_and_ends_the_call(
    make_server: ServerFactory,
) -> None:
    caught: list[BaseException] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("ANSWER")
        except ProtocolError as exc:
            caught.append(exc)
            raise

    server = await make_server({"tmp-password": handler})
    with capture_logs() as logs:
        fake = await FakeAsterisk.connect(server.port, env_bytes())
        await fake.expect("ANSWER", b"<html>oops</html>\n")
        await fake.expect_eof()  # stream unusable: no IVR_OUTCOME attempt on it
    assert len(caught) == 1
    [error] = [e for e in logs if e["event"] == "agi.handler_error"]
    assert error["error"] == "ProtocolError"


async def test_garbage_glued_to_environment_fails_first_command(
    make_server: ServerFactory,
) -> None:
    caught: list[BaseException] = []

    async def handler(call: AgiCall) -> None:
        try:
            await call.command("ANSWER")
        except ProtocolError as exc:
            caught.append(exc)

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes() + b"junk\n")
    await fake.expect_eof()
    assert len(caught) == 1


async def test_reply_to_a_cancelled_command_is_skipped(make_server: ServerFactory) -> None:
    seen: list[Reply] = []

    async def handler(call: AgiCall) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call.command("GET VARIABLE", "A"), 0.1)
        seen.append(await call.command("GET VARIABLE", "B"))

    server = await make_server({"tmp-password": handler})
    fake = await FakeAsterisk.connect(server.port, env_bytes())
    assert await fake.line() == 'GET VARIABLE "A"'
    assert await fake.line() == 'GET VARIABLE "B"'  # sent after A's waiter gave up
    await fake.send(b"200 result=1 (a)\n200 result=1 (b)\n")
    await fake.expect_eof()
    assert [r.data for r in seen] == ["b"]
