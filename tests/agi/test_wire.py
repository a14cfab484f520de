"""Every wire case, fed byte by byte and all at once."""

from __future__ import annotations

import pytest

from agi.errors import ProtocolError
from agi.wire import (
    AgiEnvironment,
    EnvironmentReader,
    HangupNotice,
    Reply,
    ReplyCode,
    ReplyEvent,
    ReplyReader,
    command_verb,
    format_command,
    quote,
)

ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: /tmp-password?mode=1\n"
    b"agi_request: agi://127.0.0.1:4573/tmp-password?mode=1\n"
    b"agi_channel: PJSIP/sipp-00000001\n"
    b"agi_language: fr\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: 0612345678\n"
    b"agi_calleridname: Jean Dupont\n"
    b"agi_dnid: 3900\n"
    b"agi_extension: 3900\n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second, with comma\n"
    b"agi_arg_3: \n"
    b"\n"
)


def chunkings(data: bytes) -> list[list[bytes]]:
    """All at once, byte by byte, and in two awkward halves."""
    return [[data], [data[i : i + 1] for i in range(len(data))], [data[:7], data[7:]]]


def feed_env(chunks: list[bytes]) -> tuple[AgiEnvironment | None, EnvironmentReader]:
    reader = EnvironmentReader()
    env = None
    for chunk in chunks:
        got = reader.feed(chunk)
        env = env or got
    return env, reader


def feed_replies(chunks: list[bytes]) -> list[ReplyEvent]:
    reader = ReplyReader()
    events: list[ReplyEvent] = []
    for chunk in chunks:
        events += reader.feed(chunk)
    return events


@pytest.mark.parametrize("chunks", chunkings(ENV), ids=["whole", "bytes", "halves"])
def test_environment_parsed_whatever_the_chunking(chunks: list[bytes]) -> None:
    env, reader = feed_env(chunks)
    assert env is not None
    assert env.script == "tmp-password"
    assert env.get("agi_channel") == "PJSIP/sipp-00000001"
    assert env.get("agi_language") == "fr"
    assert env.uniqueid == "1700000000.1"
    assert env.callerid == "0612345678"
    assert env.get("agi_calleridname") == "Jean Dupont"
    assert env.get("agi_arg_2") == "second, with comma"
    assert env.extension == "3900"
    assert env.get("agi_arg_3", "missing") == ""
    assert env.values["agi_network"] == "yes"
    assert reader.leftover == b""
    assert not reader.hangup_seen


def test_environment_is_frozen() -> None:
    env, _ = feed_env([ENV])
    assert env is not None
    with pytest.raises(AttributeError):
        env.values = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.values["agi_channel"] = "x"  # type: ignore[index]


def test_environment_incomplete_until_blank_line() -> None:
    reader = EnvironmentReader()
    assert reader.feed(ENV[:-1]) is None
    assert reader.feed(b"\n") is not None


def test_script_falls_back_to_request_and_crlf_accepted() -> None:
    env, _ = feed_env([b"agi_request: agi://host/other/path?x=1\r\n\r\n"])
    assert env is not None
    assert env.script == "other/path"
    env, _ = feed_env([b"agi_network_script: tmp-password/\n\n"])
    assert env is not None and env.script == "tmp-password"


@pytest.mark.parametrize("split", [None, 1])
def test_hangup_glued_to_environment(split: int | None) -> None:
    data = ENV + b"HANGUP\n200 result=1\n"
    chunks = [data] if split is None else chunkings(data)[1]
    env, reader = feed_env(chunks)
    assert env is not None and env.script == "tmp-password"
    assert reader.leftover == b"HANGUP\n200 result=1\n"
    assert feed_replies([reader.leftover]) == [HangupNotice(), Reply(200, "1")]


def test_hangup_line_inside_environment_is_noted_not_parsed() -> None:
    env, reader = feed_env([b"agi_channel: X\nHANGUP\nagi_uniqueid: 1\n\n"])
    assert env is not None
    assert reader.hangup_seen
    assert env.uniqueid == "1"


@pytest.mark.parametrize(
    "data",
    [b"GET / HTTP/1.1\r\n\r\n", b"agi_channel no colon\n\n", b"\x16\x03\x01\x02\x00 tls\n\n"],
)
def test_garbage_environment_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_env(chunkings(data)[1])


def test_overlong_environment_line_refused_before_its_newline() -> None:
    reader = EnvironmentReader(max_line=100)
    with pytest.raises(ProtocolError):
        reader.feed(b"agi_channel: " + b"x" * 200)


def test_too_many_environment_lines_refused() -> None:
    reader = EnvironmentReader(max_lines=5)
    with pytest.raises(ProtocolError):
        reader.feed(b"".join(b"agi_arg_%d: x\n" % i for i in range(6)))


WIRE_CASES: list[tuple[bytes, list[ReplyEvent]]] = [
    (b"200 result=1\n", [Reply(200, "1")]),
    (b"200 result=49 endpos=17440\n", [Reply(200, "49", endpos=17440)]),
    (b"200 result= (timeout)\n", [Reply(200, "", "timeout", timed_out=True)]),
    (b"200 result=1234 (timeout)\n", [Reply(200, "1234", "timeout", timed_out=True)]),
    (b"200 result=\n", [Reply(200, "")]),
    (b"200 result=1 (a (b) c)\n", [Reply(200, "1", "a (b) c")]),
    (b"200 result=0 (timeout) endpos=800\n", [Reply(200, "0", "timeout", 800, True)]),
    (b"200 result=-1 endpos=0\n", [Reply(200, "-1", endpos=0)]),
    (b"200 result=-1 (hangup)\n", [Reply(200, "-1", "hangup")]),
    (b"100 result=0 Trying...\n200 result=0\n", [Reply(200, "0")]),
    (b"HANGUP\n200 result=0\n", [HangupNotice(), Reply(200, "0")]),
    (b"200 result=1 (OK)\r\nHANGUP\r\n", [Reply(200, "1", "OK"), HangupNotice()]),
    (
        b"511 Command Not Permitted on a dead channel or intercepted\n",
        [Reply(511, usage="Command Not Permitted on a dead channel or intercepted")],
    ),
    (b"510 Invalid or unknown command\n", [Reply(510, usage="Invalid or unknown command")]),
    (
        b"520 Invalid command syntax.  Proper usage not available.\n",
        [Reply(520, usage="Invalid command syntax.  Proper usage not available.")],
    ),
    (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n"
        b"200 result=1 is only text here\n"
        b"520 End of proper usage.\n"
        b"200 result=1\n",
        [
            Reply(
                520,
                usage="Invalid command syntax.  Proper usage follows:\n"
                " Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n"
                "200 result=1 is only text here",
            ),
            Reply(200, "1"),
        ],
    ),
]


@pytest.mark.parametrize("data,expected", WIRE_CASES)
@pytest.mark.parametrize("mode", [0, 1, 2], ids=["whole", "bytes", "halves"])
def test_reply_wire_cases(data: bytes, expected: list[ReplyEvent], mode: int) -> None:
    assert feed_replies(chunkings(data)[mode]) == expected


def test_reply_helpers_and_codes() -> None:
    [reply] = feed_replies([b"200 result=35 endpos=10\n"])
    assert reply.code == ReplyCode.SUCCESS
    assert reply.number == 35 and chr(reply.number) == "#"
    assert Reply(200, "").number is None
    assert [int(c) for c in ReplyCode] == [100, 200, 510, 511, 520]


def test_partial_reply_waits_for_newline() -> None:
    reader = ReplyReader()
    assert reader.feed(b"200 result=1") == []
    assert reader.feed(b"\n") == [Reply(200, "1")]


@pytest.mark.parametrize(
    "data",
    [b"hello\n", b"200 ok\n", b"404 result=1\n", b"200-result=1\n", b"\n", b"20 result=1\n"],
)
def test_garbage_reply_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        feed_replies([data])


def test_overlong_reply_line_refused() -> None:
    reader = ReplyReader(max_line=64)
    with pytest.raises(ProtocolError):
        reader.feed(b"200 result=1 (" + b"x" * 100)


def test_endless_usage_block_refused() -> None:
    reader = ReplyReader(max_usage_lines=3)
    with pytest.raises(ProtocolError):
        reader.feed(b"520-usage\n" + b"more\n" * 5)


def test_format_command_quotes_every_argument() -> None:
    assert format_command("STREAM FILE", "tpw/menu", "0123456789*#") == (
        b'STREAM FILE "tpw/menu" "0123456789*#"\n'
    )
    assert format_command("STREAM FILE", "tpw/bye", "") == b'STREAM FILE "tpw/bye" ""\n'
    assert format_command("WAIT FOR DIGIT", 50) == b'WAIT FOR DIGIT "50"\n'
    assert format_command("HANGUP") == b"HANGUP\n"
    assert format_command("SET VARIABLE", "X", 'say "hi" \\o/') == (
        b'SET VARIABLE "X" "say \\"hi\\" \\\\o/"\n'
    )
    assert format_command("SET VARIABLE", "X", "a b") == b'SET VARIABLE "X" "a b"\n'


@pytest.mark.parametrize("bad", ["1234\nHANGUP", "12\r34", "nul\0"])
def test_format_command_refuses_line_breaks_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        format_command("SET VARIABLE", "PW", bad)
    assert bad not in str(info.value)


@pytest.mark.parametrize("verb", ["stream file", "EXEC;", "", "GET  VARIABLE"])
def test_format_command_refuses_odd_verbs(verb: str) -> None:
    with pytest.raises(ValueError):
        format_command(verb)


def test_format_command_refuses_lines_asterisk_would_cut() -> None:
    with pytest.raises(ValueError):
        format_command("SET VARIABLE", "X", "y" * 3000)


def test_quote_empty_is_two_quotes() -> None:
    assert quote("") == '""'


def test_command_verb_drops_arguments() -> None:
    assert command_verb('GET VARIABLE "IVRKEYS"') == "GET VARIABLE"
    assert command_verb('EXEC "Read" "IVRKEYS,,8"') == "EXEC"
    assert command_verb('STREAM FILE "x" "#"') == "STREAM FILE"
    assert command_verb("SECRET 1234") == "SECRET"
    assert command_verb("") == ""
