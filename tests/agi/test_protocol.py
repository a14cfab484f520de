"""agi.protocol.Connection: every per-call rule of FastAGI, bytes in and events out, no socket."""

from __future__ import annotations

import pytest

from agi.errors import AGITimeout, CommandError, CommandFailed, HangupError, ProtocolError
from agi.protocol import Connection, EnvironmentReceived, State
from agi.wire import HangupNotice, Reply

ENV = b"agi_network_script: tmp-password\nagi_uniqueid: 1.1\nagi_callerid: 0612345678\n\n"


def ready() -> Connection:
    conn = Connection()
    [event] = conn.receive_data(ENV)
    assert isinstance(event, EnvironmentReceived)
    assert conn.state is State.IDLE
    return conn


@pytest.mark.parametrize("step", [1, 3, len(ENV)])
def test_environment_then_idle_whatever_the_chunking(step: int) -> None:
    conn = Connection()
    assert conn.state is State.AWAITING_ENVIRONMENT
    events = []
    for i in range(0, len(ENV), step):
        events += conn.receive_data(ENV[i : i + step])
    assert len(events) == 1 and isinstance(events[0], EnvironmentReceived)
    assert events[0].env.callerid == "0612345678" and events[0].env.script == "tmp-password"
    assert conn.state is State.IDLE


def test_no_command_before_the_environment() -> None:
    with pytest.raises(ProtocolError):
        Connection().send_command("ANSWER")


def test_command_then_reply_round_trip() -> None:
    conn = ready()
    assert conn.send_command("STREAM FILE", "tpw/menu", "12") == b'STREAM FILE "tpw/menu" "12"\n'
    assert conn.state is State.AWAITING_REPLY
    assert conn.receive_data(b"200 result=49 endpos=100\n") == [Reply(200, "49", endpos=100)]
    assert conn.state is State.IDLE


def test_one_command_in_flight() -> None:
    conn = ready()
    conn.send_command("NOOP")
    with pytest.raises(RuntimeError):
        conn.send_command("NOOP")


def test_reply_without_a_command_is_a_protocol_error_that_sticks() -> None:
    conn = ready()
    with pytest.raises(ProtocolError):
        conn.receive_data(b"200 result=0\n")
    assert conn.state is State.GONE
    with pytest.raises(ProtocolError):
        conn.send_command("NOOP")


def test_hangup_line_is_never_the_reply() -> None:
    conn = ready()
    conn.send_command("GET VARIABLE", "X")
    assert conn.receive_data(b"HANGUP\n") == [HangupNotice()]
    assert conn.state is State.AWAITING_REPLY  # the reply still comes
    assert conn.receive_data(b"200 result=1 (v)\n") == [Reply(200, "1", "v")]
    assert conn.state is State.GONE
    with pytest.raises(HangupError):
        conn.send_command("NOOP")


def test_hangup_glued_to_the_environment() -> None:
    conn = Connection()
    events = conn.receive_data(ENV + b"HANGUP\n")
    assert isinstance(events[0], EnvironmentReceived) and events[1:] == [HangupNotice()]
    assert conn.state is State.GONE


def test_eof_while_awaiting_a_reply_is_gone() -> None:
    conn = ready()
    conn.send_command("NOOP")
    assert conn.receive_data(b"") == [HangupNotice()]
    assert conn.state is State.GONE


def test_abandoned_command_reply_is_skipped() -> None:
    conn = ready()
    conn.send_command("WAIT FOR DIGIT", 5000)
    conn.abandon_command()
    assert conn.state is State.IDLE
    conn.send_command("NOOP")
    assert conn.receive_data(b"200 result=50\n200 result=0\n") == [Reply(200, "0")]


@pytest.mark.parametrize(
    "line,error",
    [
        (b"511 Command Not Permitted on a dead channel\n", HangupError),
        (b"200 result=0 (hangup)\n", HangupError),
        (b"510 Invalid or unknown command\n", CommandError),
        (b"520 Invalid command syntax.\n", CommandError),
        (b"200 result=-1 endpos=0\n", CommandFailed),  # live channel: its status decides
    ],
)
def test_judged_replies(line: bytes, error: type[Exception]) -> None:
    conn = ready()
    conn.send_command("STREAM FILE", "x", "")
    [reply] = conn.receive_data(line)
    with pytest.raises(error):
        conn.judge(reply)
    assert (conn.state is State.GONE) == (error is HangupError)


def test_minus_one_after_a_hangup_line_is_a_hangup() -> None:
    conn = ready()
    conn.send_command("STREAM FILE", "x", "")
    [_, reply] = conn.receive_data(b"HANGUP\n200 result=-1 endpos=0\n")
    with pytest.raises(HangupError):
        conn.judge(reply)


def test_lost_stream_refuses_further_commands() -> None:
    conn = ready()
    conn.send_command("NOOP")
    conn.lose(AGITimeout)
    assert conn.state is State.GONE
    with pytest.raises(AGITimeout):
        conn.send_command("NOOP")
