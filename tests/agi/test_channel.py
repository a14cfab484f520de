"""AgiChannel against a scripted call: expected command lines → canned replies."""

from __future__ import annotations

import inspect

import pytest

from agi.errors import AGIError, HangupError
from agi.wire import Reply, format_command
from ivr.agi_channel import FLUSH_WAIT_MS, AgiChannel
from ivr.flow.ports import CallerHangup, Channel, Digits, Keyed, Sound

ESC = '"0123456789*#"'
OK = Reply(200, "1")
Step = tuple[str, Reply | Exception]


def key(ch: str) -> Reply:
    return Reply(200, str(ord(ch)), endpos=1200)


def var(value: str | None) -> Reply:
    return Reply(200, "0") if value is None else Reply(200, "1", value)


class ScriptedCall:
    """Checks each command line (as it would go on the wire) and answers from the script."""

    def __init__(self, script: list[Step]) -> None:
        self.script = list(script)
        self.sent: list[str] = []

    async def command(self, verb: str, *args: str | int) -> Reply:
        line = format_command(verb, *args).decode().rstrip("\n")
        self.sent.append(line)
        assert self.script, f"unexpected command {line}"
        expected, answer = self.script.pop(0)
        assert line == expected
        if isinstance(answer, Exception):
            raise answer
        return answer

    def done(self) -> None:
        assert self.script == [], "commands expected but not sent"


def read_steps(
    prompt: str,
    n: int,
    value: str | None,
    status: str,
    *,
    response: str | None,
    digit=None,
    timeout: str | None = None,
) -> list[Step]:
    """A Read(); with timeout, the rest of an entry after a barge-in: Read's own timer, and
    no SET VARIABLE between the interrupted prompt and the Read."""
    steps: list[Step] = []
    if response is not None:
        steps.append((f'SET VARIABLE "TIMEOUT(response)" "{response}"', OK))
    if digit is not None:
        steps.append((f'SET VARIABLE "TIMEOUT(digit)" "{digit}"', OK))
    read = f"IVRKEYS,{prompt},{n}" + (f",,1,{timeout}" if timeout is not None else "")
    steps += [
        (f'EXEC "Read" "{read}"', Reply(200, "0")),
        ('GET VARIABLE "IVRKEYS"', var(value)),
        ('GET VARIABLE "READSTATUS"', var(status)),
    ]
    return steps


async def collect(chan: AgiChannel, prompts, max_digits=8, first=10.0, inter=5.0) -> Keyed:
    return await chan.collect(prompts, max_digits=max_digits, first_key_s=first, inter_key_s=inter)


def test_agi_channel_matches_the_port_signatures() -> None:
    for name in ("collect", "play", "flush_keys", "hangup"):
        ours = inspect.signature(getattr(AgiChannel, name))
        port = inspect.signature(getattr(Channel, name))
        assert list(ours.parameters) == list(port.parameters), name
        assert inspect.iscoroutinefunction(getattr(AgiChannel, name)), name


async def test_no_barge_in_reads_with_last_prompt_and_first_key_timer() -> None:
    call = ScriptedCall(
        [
            (f'STREAM FILE "tpw/welcome" {ESC}', Reply(200, "0", endpos=8000)),
            *read_steps("tpw/ask_password", 8, "12345678", "OK", response="10", digit="5"),
        ]
    )
    got = await collect(AgiChannel(call), [Sound("tpw/welcome"), Sound("tpw/ask_password")])
    assert got == Keyed("12345678")
    call.done()


async def test_key_interrupting_a_prompt_is_the_first_digit() -> None:
    call = ScriptedCall(
        [
            (f'STREAM FILE "tpw/welcome" {ESC}', key("4")),
            *read_steps("", 7, "321", "TIMEOUT", response=None, timeout="2.5"),
        ]
    )
    chan = AgiChannel(call)
    prompts = [Sound("tpw/welcome"), Sound("tpw/more"), Sound("tpw/ask")]
    got = await collect(chan, prompts, inter=2.5)
    assert got == Keyed("4321", timed_out=True)
    call.done()


async def test_hash_interrupting_a_prompt_terminates_empty() -> None:
    call = ScriptedCall([(f'STREAM FILE "tpw/welcome" {ESC}', key("#"))])
    got = await collect(AgiChannel(call), [Sound("tpw/welcome"), Sound("tpw/ask")])
    assert got == Keyed("", terminated=True)
    call.done()


async def test_single_digit_menu_key_needs_no_read() -> None:
    call = ScriptedCall([(f'STREAM FILE "tpw/menu" {ESC}', key("2"))])
    got = await collect(AgiChannel(call), [Sound("tpw/menu"), Sound("tpw/menu_end")], 1)
    assert got == Keyed("2")
    call.done()


async def test_digits_as_last_item_said_first_then_read_without_prompt() -> None:
    call = ScriptedCall(
        [
            (f'SAY DIGITS "0612" {ESC}', Reply(200, "0")),
            *read_steps("", 1, "1", "OK", response="10", digit="5"),
        ]
    )
    got = await collect(AgiChannel(call), [Digits("0612")], 1)
    assert got == Keyed("1")
    call.done()


async def test_star_key_interrupting_say_digits_and_star_inside_value() -> None:
    call = ScriptedCall(
        [
            (f'STREAM FILE "tpw/number_is" {ESC}', Reply(200, "0")),
            (f'SAY DIGITS "0612" {ESC}', key("*")),
            *read_steps("", 3, "1*", "OK", response=None, timeout="5"),
        ]
    )
    got = await collect(AgiChannel(call), [Sound("tpw/number_is"), Digits("0612")], 4)
    assert got == Keyed("*1*", terminated=True)
    call.done()


@pytest.mark.parametrize(
    "value,status,expected",
    [
        (None, "TIMEOUT", Keyed("", timed_out=True)),
        ("12", "TIMEOUT", Keyed("12", timed_out=True)),
        ("", "OK", Keyed("", terminated=True)),
        ("123", "OK", Keyed("123", terminated=True)),
        ("1234", "OK", Keyed("1234")),
    ],
)
async def test_read_status_judged_with_value(value, status, expected) -> None:
    call = ScriptedCall(read_steps("tpw/ask", 4, value, status, response="10", digit="5"))
    assert await collect(AgiChannel(call), [Sound("tpw/ask")], 4) == expected
    call.done()


async def test_read_status_hangup_and_unknown() -> None:
    call = ScriptedCall(read_steps("tpw/ask", 4, None, "HANGUP", response="10", digit="5"))
    with pytest.raises(CallerHangup):
        await collect(AgiChannel(call), [Sound("tpw/ask")], 4)
    call = ScriptedCall(read_steps("tpw/ask", 4, None, "ERROR", response="10", digit="5"))
    with pytest.raises(AGIError) as info:
        await collect(AgiChannel(call), [Sound("tpw/ask")], 4)
    assert not isinstance(info.value, HangupError)


async def test_timeouts_sent_only_when_they_change() -> None:
    call = ScriptedCall(
        [
            *read_steps("tpw/a", 8, "1", "OK", response="10", digit="5"),
            *read_steps("tpw/b", 8, "2", "OK", response=None, digit=None),
            (f'STREAM FILE "tpw/c" {ESC}', key("9")),
            *read_steps("", 7, "", "TIMEOUT", response=None, timeout="5"),  # after a barge-in
            *read_steps("tpw/d", 8, "", "TIMEOUT", response=None, digit=None),
        ]
    )
    chan = AgiChannel(call)
    assert await collect(chan, [Sound("tpw/a")]) == Keyed("1", terminated=True)
    assert await collect(chan, [Sound("tpw/b")]) == Keyed("2", terminated=True)
    assert await collect(chan, [Sound("tpw/c"), Sound("x")]) == Keyed("9", timed_out=True)
    assert await collect(chan, [Sound("tpw/d")]) == Keyed("", timed_out=True)
    call.done()


async def test_hangup_during_prompt_propagates_and_stops() -> None:
    call = ScriptedCall([(f'STREAM FILE "tpw/a" {ESC}', HangupError("gone"))])
    with pytest.raises(CallerHangup):
        await collect(AgiChannel(call), [Sound("tpw/a"), Sound("tpw/b")])
    call.done()


async def test_prompt_id_with_comma_refused() -> None:
    with pytest.raises(ValueError):
        await collect(AgiChannel(ScriptedCall([])), [Sound("a,b")])


async def test_play_has_no_barge_in() -> None:
    call = ScriptedCall(
        [('STREAM FILE "tpw/bye" ""', Reply(200, "0")), ('SAY DIGITS "42" ""', Reply(200, "0"))]
    )
    await AgiChannel(call).play([Sound("tpw/bye"), Digits("42")])
    call.done()


async def test_flush_drains_until_quiet() -> None:
    wait = f'WAIT FOR DIGIT "{FLUSH_WAIT_MS}"'
    call = ScriptedCall([(wait, key("1")), (wait, key("2")), (wait, Reply(200, "0"))])
    await AgiChannel(call).flush_keys()
    call.done()


async def test_flush_gives_up_after_twenty_rounds() -> None:
    call = ScriptedCall([(f'WAIT FOR DIGIT "{FLUSH_WAIT_MS}"', key("1"))] * 20)
    await AgiChannel(call).flush_keys()
    call.done()


async def test_hangup_sends_hangup_and_swallows_already_gone() -> None:
    call = ScriptedCall([("HANGUP", OK)])
    await AgiChannel(call).hangup()
    call.done()
    call = ScriptedCall([("HANGUP", HangupError("gone"))])
    await AgiChannel(call).hangup()
    call.done()


async def test_step_sets_the_variable_in_one_command() -> None:
    call = ScriptedCall(
        [
            ('SET VARIABLE "IVR_STEP" "menu"', OK),
        ]
    )
    await AgiChannel(call).step("menu")
    call.done()


async def test_step_refused_by_asterisk_does_not_end_the_call_but_a_hangup_does() -> None:
    refused = ScriptedCall([('SET VARIABLE "IVR_STEP" "menu"', AGIError("510"))])
    await AgiChannel(refused).step("menu")
    refused.done()
    gone = ScriptedCall([('SET VARIABLE "IVR_STEP" "menu"', HangupError("gone"))])
    with pytest.raises(CallerHangup):
        await AgiChannel(gone).step("menu")
    with pytest.raises(ValueError):
        await AgiChannel(ScriptedCall([])).step("menu,1234")
