"""`ivrctl call`'s transcript against what the flow really played, on every path of the table.

Each scenario of tests/ivr/test_table.py (one per transition, a new row needs one) and the
exits outside the table run against the scripted channel with the service's real log sink;
the transcript derived from that log must list exactly what the channel was asked to play,
in order, with the keys of every judged entry between (masked at the password step).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import ivr.flow.call as flow
from ivr.flow import entries
from ivr.flow.calllog import CALL_PROMPT, LogLine, log_call_end, read_lines
from ivr.flow.outcomes import CallInfo, Outcome
from ivr.flow.ports import CallerHangup, Keyed, PromptItem, Sound
from ivr.flow.table import TABLE, E, End, S
from ivr.flow.timing import Timing
from ivr.service.logsink import configure_logging
from ivr.tools import transcript
from ivr.tools.transcript import Line
from sounds.catalog import Prompt
from store.types import PASSWORD_LENGTH, Subscriber
from tests.ivr.conftest import ADDITIONAL, CONTRACT, DID, PW, PW2, SUBSCRIBERS, Call, Dial
from tests.ivr.fakes import FakeDirectory, FakeLimiter, key, pound, timer
from tests.ivr.test_table import SCENARIOS

BYE = CallerHangup()
SHORT = Timing(first_key_s=0.01, inter_key_s=0.01, tries=3, max_call_s=0.05)
# Exits outside the table: (script, dial options).
EXITS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "abandoned in the password entry": ((key("2"), pound(ADDITIONAL), BYE), {}),
    "timeout_call in the target entry": ((key("2"), timer(), asyncio.Event()), {"timing": SHORT}),
    "error_internal at the caller check": (
        (),
        {"directory": FakeDirectory(*SUBSCRIBERS, fail=RuntimeError("db gone"))},
    ),
    "hangup during the goodbye": ((key("1"), key(PW), key(PW)), {"hangup_on_play": True}),
    "strikes at every entry": (
        (
            key("*"),
            key("2"),
            pound(CONTRACT[:4]),
            pound(ADDITIONAL),
            pound("1"),
            key(PW),
            key(PW2),
            key(PW),
            key(PW),
        ),
        {},
    ),  # fmt: skip
}


def sent(item: Any) -> str:
    """The key group a test caller sends for one scripted entry ('' for none)."""
    if not isinstance(item, Keyed):
        return ""
    return item.digits + ("#" if item.terminated else "")


def played(call: Call, script: tuple[Any, ...]) -> list[Line]:
    """The transcript the channel itself implies: every prompt list it was asked to play, and
    after each entry that got keys, the keys (masked where the entry takes a password)."""
    items, collects, out = iter(script), iter(call.channel.collects), []
    for what, *args in call.channel.log:
        if what in ("play", "refuse", "collect"):
            out.append(Line(heard=args[0]))
        if what == "collect" and (group := sent(next(items))):
            masked = next(collects).max_digits == PASSWORD_LENGTH
            out.append(Line(keys="•" * len(group) if masked else group))
        elif what == "collect":
            next(collects)
    return out


async def run(dial: Dial, tmp_path: Path, script: tuple[Any, ...], **options: Any):
    """One call through the real sink; its log lines (call.end included) and the call."""
    path = tmp_path / "calls.jsonl"
    sink = configure_logging(path, stdout=False)
    try:
        call = await dial(*script, **options)
        caller = options.get("caller", CONTRACT)
        log_call_end(CallInfo("call-1", caller, DID), call.result, call.result.duration_ms)
    finally:
        sink.close()
    lines, _ = read_lines(path)
    return lines, call


def derive(lines: list[LogLine], script: tuple[Any, ...]) -> list[Line]:
    return transcript.derive(lines, [g for g in map(sent, script) if g])


CASES = {f"{s}-{e}": (script, options) for (s, e), (script, options, _) in SCENARIOS.items()}


@pytest.mark.parametrize("name", [*CASES, *EXITS])
async def test_transcript_is_what_the_channel_played(name: str, dial: Dial, tmp_path: Path) -> None:
    script, options = CASES.get(name) or EXITS[name]
    lines, call = await run(dial, tmp_path, script, **options)
    assert derive(lines, script) == played(call, script)
    assert call.channel.played or call.channel.collects  # something was played to compare


def test_every_transition_of_the_table_has_a_path_here() -> None:
    assert set(SCENARIOS) == set(TABLE)


async def test_no_digit_of_the_target_or_password_in_the_prompt_lines(
    dial: Dial, tmp_path: Path
) -> None:
    script = (key("2"), pound(ADDITIONAL), key(PW), key(PW))
    lines, call = await run(dial, tmp_path, script)
    assert call.result.outcome is Outcome.SET
    prompts = [line.raw.decode() for line in lines if line.event == CALL_PROMPT]
    assert len(prompts) == 5  # menu, target, password, confirmation, the goodbye
    assert not [p for p in prompts if ADDITIONAL in p or PW in p]
    text = "\n".join(line.render() for line in derive(lines, script))
    assert f"heard digits {ADDITIONAL}" in text and PW not in text and "••••••••" in text


async def test_a_changed_table_and_entries_are_followed(
    dial: Dial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transcript has no table of its own: change what a refusal and the menu play and
    the transcript says so without a line of it changed."""
    table = dict(TABLE)
    table[(S.CALLER_CHECK, E.LIMITED)] = (S.END, End(Outcome.REJECTED_RATE_LIMITED, Prompt.SORRY))
    monkeypatch.setattr(flow, "TABLE", table)
    menu = replace(entries.MENU, prompt=(Prompt.UNIT_MENU, Prompt.ASK_TARGET))
    monkeypatch.setattr(entries, "MENU", menu)
    lines, _ = await run(dial, tmp_path, (), limiter=FakeLimiter(allow=False))
    assert derive(lines, ()) == [Line(heard=(Sound(Prompt.SORRY),))]
    script = (key("1"), key(PW), key(PW))
    lines, call = await run(dial, tmp_path / "2", script)
    heard: list[PromptItem] = [p for line in derive(lines, script) for p in line.heard]
    assert heard[:2] == [Sound(Prompt.UNIT_MENU), Sound(Prompt.ASK_TARGET)]
    assert derive(lines, script) == played(call, script)


async def test_an_orphan_number_refused_at_the_menu(dial: Dial, tmp_path: Path) -> None:
    """Unit 1 without an active contract line: the menu, the key, then the refusal text."""
    orphan = Subscriber("0664806777", "0664806999", "west", True)
    script = (key("1"),)
    lines, _ = await run(dial, tmp_path, script, caller=orphan.number,
                         directory=FakeDirectory(orphan))  # fmt: skip
    assert derive(lines, script) == [
        Line(heard=(Sound(Prompt.UNIT_MENU),)),
        Line(keys="1"),
        Line(heard=(Sound(Prompt.NOT_SUBSCRIBED),)),
    ]
