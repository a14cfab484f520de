"""AgiChannel against a scripted call: expected command lines → canned replies."""

from __future__ import annotations

import inspect

import pytest

from agi.errors import AGIError, HangupError
from agi.wire import Reply, format_command
from ivr.agi_channel import AgiChannel
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
    first="10",
    inter="5",
    step="",
    flush=0,
) -> list[Step]:
    """One entry: one GOSUB into the dialplan's entry subroutine, then Read's keys and status."""
    gosub = f'GOSUB "ivr-entry" "s" "1" "{step},{prompt},{n},{first},{inter},{flush}"'
    return [
        (gosub, Reply(200, "0")),
        ('GET FULL VARIABLE "${IVRKEYS}|${READSTATUS}"', var(f"{value or ''}|{status}")),
    ]


async def collect(chan: AgiChannel, prompts, max_digits=8, first=10.0, inter=5.0) -> Keyed:
    return await chan.collect(prompts, max_digits=max_digits, first_key_s=first, inter_key_s=inter)


def test_agi_channel_matches_the_port_signatures() -> None:
    for name in ("collect", "play", "flush_keys", "hangup"):
        ours = inspect.signature(getattr(AgiChannel, name))
        port = inspect.signature(getattr(Channel, name))
        assert list(ours.parameters) == list(port.parameters), name
        assert inspect.iscoroutinefunction(getattr(AgiChannel, name)), name


async def test_one_read_plays_every_prompt_joined_with_ampersands() -> None:
    """No STREAM FILE before the Read: a key during any prompt is taken by the same command."""
    call = ScriptedCall(read_steps("tpw/welcome&tpw/ask_password", 8, "12345678", "OK"))
    got = await collect(AgiChannel(call), [Sound("tpw/welcome"), Sound("tpw/ask_password")])
    assert got == Keyed("12345678")
    call.done()


async def test_digits_are_read_back_as_digit_files_inside_the_read() -> None:
    steps = read_steps(
        "digits/0&digits/6&digits/1&digits/2&tpw/intro&tpw/ask", 8, "4321", "TIMEOUT",
        inter="2.5",
    )  # fmt: skip
    call = ScriptedCall(steps)
    prompts = [Digits("0612"), Sound("tpw/intro"), Sound("tpw/ask")]
    got = await collect(AgiChannel(call), prompts, inter=2.5)
    assert got == Keyed("4321", timed_out=True)
    call.done()


async def test_star_inside_value_is_a_key_and_hash_alone_terminates() -> None:
    call = ScriptedCall(
        [
            *read_steps("tpw/number_is&digits/0", 4, "*1*", "OK"),
            *read_steps("tpw/ask", 8, "", "OK"),
        ]
    )
    chan = AgiChannel(call)
    assert await collect(chan, [Sound("tpw/number_is"), Digits("0")], 4) == Keyed(
        "*1*", terminated=True
    )
    assert await collect(chan, [Sound("tpw/ask")]) == Keyed("", terminated=True)
    call.done()


@pytest.mark.parametrize(
    "prompts",
    [[Sound("tpw/a,b")], [Sound("tpw/a&b")], [Sound("tpw/a|b")], [Digits("06*1")]],
)
async def test_prompt_that_would_break_the_read_argument_is_refused(prompts) -> None:
    call = ScriptedCall([])
    with pytest.raises(ValueError):
        await collect(AgiChannel(call), prompts)
    assert call.sent == []


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
    call = ScriptedCall(read_steps("tpw/ask", 4, value, status))
    assert await collect(AgiChannel(call), [Sound("tpw/ask")], 4) == expected
    call.done()


async def test_read_status_hangup_and_unknown() -> None:
    call = ScriptedCall(read_steps("tpw/ask", 4, None, "HANGUP"))
    with pytest.raises(CallerHangup):
        await collect(AgiChannel(call), [Sound("tpw/ask")], 4)
    call = ScriptedCall(read_steps("tpw/ask", 4, None, "ERROR"))
    with pytest.raises(AGIError) as info:
        await collect(AgiChannel(call), [Sound("tpw/ask")], 4)
    assert not isinstance(info.value, HangupError)


async def test_each_entry_carries_its_own_timers() -> None:
    call = ScriptedCall(
        [
            *read_steps("tpw/a", 8, "1", "OK"),
            *read_steps("tpw/b", 8, "2", "OK"),
            *read_steps("tpw/c", 8, "", "TIMEOUT", inter="2"),
            *read_steps("tpw/d", 8, "", "TIMEOUT", first="3", inter="2"),
        ]
    )
    chan = AgiChannel(call)
    assert await collect(chan, [Sound("tpw/a")]) == Keyed("1", terminated=True)
    assert await collect(chan, [Sound("tpw/b")]) == Keyed("2", terminated=True)
    assert await collect(chan, [Sound("tpw/c")], inter=2.0) == Keyed("", timed_out=True)
    assert await collect(chan, [Sound("tpw/d")], first=3, inter=2.0) == Keyed("", timed_out=True)
    call.done()


async def test_hangup_during_the_read_propagates_and_stops() -> None:
    call = ScriptedCall([*read_steps("tpw/a&tpw/b", 8, "", "OK")[:1]])
    call.script[0] = (call.script[0][0], HangupError("gone"))
    with pytest.raises(CallerHangup):
        await collect(AgiChannel(call), [Sound("tpw/a"), Sound("tpw/b")])
    call.done()


async def test_play_has_no_barge_in() -> None:
    call = ScriptedCall(
        [('STREAM FILE "tpw/bye" ""', Reply(200, "0")), ('SAY DIGITS "42" ""', Reply(200, "0"))]
    )
    await AgiChannel(call).play([Sound("tpw/bye"), Digits("42")])
    call.done()


async def test_a_flush_is_done_by_the_next_entry_once_and_costs_no_command() -> None:
    call = ScriptedCall(
        [*read_steps("tpw/a", 8, "1", "OK", flush=1), *read_steps("tpw/b", 8, "2", "OK")]
    )
    chan = AgiChannel(call)
    await chan.flush_keys()
    assert call.sent == []
    await collect(chan, [Sound("tpw/a")])
    await collect(chan, [Sound("tpw/b")])
    call.done()


async def test_hangup_sends_hangup_and_swallows_already_gone() -> None:
    call = ScriptedCall([("HANGUP", OK)])
    await AgiChannel(call).hangup()
    call.done()
    call = ScriptedCall([("HANGUP", HangupError("gone"))])
    await AgiChannel(call).hangup()
    call.done()


async def test_a_step_that_starts_with_an_entry_rides_in_the_entry() -> None:
    call = ScriptedCall(
        [*read_steps("tpw/menu", 1, "1", "OK", step="menu"), *read_steps("tpw/b", 1, "1", "OK")]
    )
    chan = AgiChannel(call)
    await chan.step("menu")
    assert call.sent == []
    await collect(chan, [Sound("tpw/menu")], 1)
    await collect(chan, [Sound("tpw/b")], 1)  # a retry of the same step: nothing to announce
    call.done()


async def test_other_steps_set_the_variable_in_one_command() -> None:
    call = ScriptedCall([('SET VARIABLE "IVR_STEP" "commit"', OK)])
    await AgiChannel(call).step("commit")
    call.done()


async def test_step_refused_by_asterisk_does_not_end_the_call_but_a_hangup_does() -> None:
    refused = ScriptedCall([('SET VARIABLE "IVR_STEP" "done"', AGIError("510"))])
    await AgiChannel(refused).step("done")
    refused.done()
    gone = ScriptedCall([('SET VARIABLE "IVR_STEP" "commit"', HangupError("gone"))])
    with pytest.raises(CallerHangup):
        await AgiChannel(gone).step("commit")
    with pytest.raises(ValueError):
        await AgiChannel(ScriptedCall([])).step("menu,1234")
