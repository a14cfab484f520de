"""The call log's one reader: typed records back from what the writer wrote, garbage and a
cut last line skipped, byte offsets, and reading only what is new."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from ivr.flow.calllog import (
    READBACK,
    CallEnd,
    CallLogReader,
    CallPrompt,
    CallStart,
    CallStrike,
    Played,
    log_call_end,
    log_call_event,
    log_call_start,
    log_prompts,
    log_strike,
    parse_line,
    read_lines,
)
from ivr.flow.outcomes import CallInfo, CallResult, Outcome, Step
from ivr.flow.ports import Digits, Sound
from ivr.service.logsink import configure_logging
from sounds.catalog import Prompt
from store.types import Unit
from tests.ivr.conftest import CONTRACT, DID

INFO = CallInfo(call_id="1740000000.7", caller_raw=CONTRACT, did=DID)
RESULT = CallResult(Outcome.SET, Step.DONE, 0, Unit.LINE, CONTRACT, CONTRACT, 9000, True)


def write_one_call(path: Path) -> None:
    """Every kind of line a call writes, through the service's real sink."""
    sink = configure_logging(path, stdout=False)
    log_call_start(INFO, CONTRACT)
    log_prompts(INFO, Step.MENU, [Sound(Prompt.UNIT_MENU)], entry=True)
    log_strike(INFO, step=Step.MENU, reason="invalid_key", strikes=1)
    log_call_event("call.error", INFO, level="warning", error="KeyError")
    log_prompts(INFO, Step.DONE, [])  # nothing played: no line
    log_prompts(INFO, Step.DONE, [Digits(CONTRACT)])
    log_prompts(INFO, Step.CALLER_CHECK, [Sound(Prompt.LIMITED)], answered=False)
    log_call_end(INFO, RESULT, 9000)
    sink.close()


def test_what_the_writer_wrote_reads_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    write_one_call(path)
    lines, offset = read_lines(path)
    assert offset == path.stat().st_size
    assert [line.event for line in lines] == [
        "call.start", "call.prompt", "call.strike", "call.error", "call.prompt", "call.prompt",
        "call.end",
    ]  # fmt: skip
    assert lines[0].start == CallStart(INFO.call_id, CONTRACT, DID)
    assert lines[1].prompt == CallPrompt(INFO.call_id, "menu", "entry", (Prompt.UNIT_MENU,))
    assert lines[2].strike == CallStrike(INFO.call_id, "menu", "invalid_key", 1)
    assert lines[3].record is None and lines[3].level == "warning"  # not a typed event
    assert lines[3].call_id == INFO.call_id and lines[3].data["error"] == "KeyError"
    assert lines[4].prompt == CallPrompt(INFO.call_id, "done", Played.GOODBYE, (READBACK,))
    assert CONTRACT not in lines[4].raw.decode()  # the number read back is never logged
    assert lines[5].prompt == CallPrompt(INFO.call_id, "caller_check", "refusal", (Prompt.LIMITED,))
    assert lines[6].end == CallEnd.of(INFO, RESULT, 9000)
    assert lines[6].end is not None and lines[6].end.answered is True
    assert all(line.timestamp is not None for line in lines)  # with its offset
    assert [line.raw for line in lines] == path.read_bytes().splitlines()


def _end_line(**changes: object) -> bytes:
    data = {"event": "call.end", **asdict(CallEnd.of(INFO, RESULT, 5)), **changes}
    return json.dumps(data).encode() + b"\n"


@pytest.mark.parametrize(
    "garbage",
    [
        b"not json at all",
        b"[1, 2]",
        b'{"no": "event"}',
        b"\xff\xfe",
        _end_line(strikes="3").rstrip(),  # a field of the wrong type
        _end_line(answered=1).rstrip(),
        _end_line(caller=5).rstrip(),
    ],
)
def test_garbage_lines_are_skipped(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(_end_line() + garbage + b"\n" + _end_line(call_id="second"))
    lines, offset = read_lines(path)
    assert [line.end.call_id for line in lines if line.end] == [INFO.call_id, "second"]
    assert len(lines) == 2 and offset == path.stat().st_size
    assert parse_line(garbage) is None


def test_missing_fields_take_their_defaults() -> None:
    """What the floor benchmark's dialplan writes: only caller and outcome."""
    line = parse_line(b'{"event": "call.end", "caller": "0690000001", "outcome": "set"}')
    assert line is not None and line.end is not None
    assert (line.end.caller, line.end.outcome) == ("0690000001", "set")
    assert (line.end.call_id, line.end.unit, line.end.strikes, line.end.answered) == (
        "", None, 0, False,
    )  # fmt: skip
    assert line.timestamp is None  # none written
    naive = parse_line(b'{"event": "x", "timestamp": "2025-03-01T09:00:00"}')
    assert naive is not None and naive.timestamp is None  # a time without offset is not one


def test_a_cut_last_line_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    whole, cut = _end_line(call_id="a"), _end_line(call_id="b")
    path.write_bytes(whole + cut[:25])
    lines, offset = read_lines(path)
    assert [line.call_id for line in lines] == ["a"] and offset == len(whole)
    with path.open("ab") as f:
        f.write(cut[25:])
    lines, offset = read_lines(path, offset)
    assert [line.call_id for line in lines] == ["b"] and offset == len(whole) + len(cut)


def test_offsets(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    first = _end_line(call_id="a")
    path.write_bytes(first + _end_line(call_id="b") + _end_line(call_id="c"))
    lines, offset = read_lines(path, len(first))
    assert [line.call_id for line in lines] == ["b", "c"] and offset == path.stat().st_size
    assert read_lines(path, offset) == ([], offset)  # nothing new
    assert read_lines(tmp_path / "none.jsonl", 42) == ([], 42)  # not written yet
    path.write_bytes(_end_line(call_id="new"))  # replaced by a shorter file (rotated)
    assert [line.call_id for line in read_lines(path, offset)[0]] == ["new"]


def test_the_reader_returns_only_what_is_new(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(_end_line(call_id="before"))
    reader = CallLogReader.at_end(path)
    assert reader.read() == []
    with path.open("ab") as f:
        f.write(_end_line(call_id="a") + _end_line(call_id="b"))
    assert [line.call_id for line in reader.read()] == ["a", "b"]
    assert reader.read() == []
    # What was read is rewritten in place (other ids, same length): a reader that read it
    # again would return A and B; this one reads on from its offset.
    path.write_bytes(b"".join(_end_line(call_id=c) for c in ("BEFORE", "A", "B"))[: reader.offset])
    with path.open("ab") as f:
        f.write(_end_line(call_id="c"))
    assert [line.call_id for line in reader.read()] == ["c"]
    assert CallLogReader.at_end(tmp_path / "later.jsonl").offset == 0


def test_until_stops_at_the_match_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"".join(_end_line(call_id=c) for c in "abcd"))
    reader = CallLogReader(path)
    lines, found = reader.until(lambda line: line.call_id == "b", timeout_s=5)
    assert [line.call_id for line in lines] == ["a", "b"] and found is lines[-1]
    lines, found = reader.until(lambda line: line.call_id == "z", timeout_s=0)
    assert [line.call_id for line in lines] == ["c", "d"] and found is None  # read on, no match
    os.truncate(path, 0)
    assert reader.until(lambda line: True, timeout_s=0) == ([], None)
