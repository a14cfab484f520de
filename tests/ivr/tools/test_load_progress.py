"""`ivrctl load`'s live line reads the call log's new lines only, at each tick."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ivr.flow.calllog import CALL_END, CallEnd, CallLogReader
from ivr.flow.outcomes import Outcome
from ivr.tools.load import Ends, Progress

CALLERS = {"0690000001", "0690000002", "0690000003"}
STATS = {"OutgoingCall(C)": "3", "CurrentCall": "1"}


def end_line(caller: str, outcome: str) -> bytes:
    end = replace(CallEnd.from_record({}), caller=caller, outcome=outcome)  # the rest defaults
    data = {"event": CALL_END, **asdict(end)}
    return json.dumps(data).encode() + b"\n"


def append(path: Path, *lines: bytes) -> None:
    with path.open("ab") as f:
        f.write(b"".join(lines))


def test_progress_counts_ends_reading_only_new_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "calls.jsonl"
    append(log, end_line("0690000001", "set"))  # an earlier run's line: not counted
    progress = Progress(Ends(CallLogReader.at_end(log), CALLERS), total=3, tty=False)
    append(log, end_line("0690000001", Outcome.SET), end_line("0690000002", "failed_strikes"))
    append(log, end_line("0311112222", Outcome.SET))  # not one of this run's callers
    progress(STATS, 10.0)
    assert "offered 3/3  in progress 1  ended 2  set 1" in capsys.readouterr().err
    # Rewrite what was read (same length, another outcome): a tick that re-read the log
    # would count it; the next tick reads only what was appended since.
    seen = progress.ends.reader.offset
    text = log.read_bytes()[:seen].replace(b'"failed_strikes"', b'"error_internal"')
    log.write_bytes(text.replace(b'"set"', b'"abc"'))
    append(log, end_line("0690000003", Outcome.SET))
    progress(STATS, 12.0)  # within 5 s on a non-terminal: no line, no read
    assert capsys.readouterr().err == ""
    progress(STATS, 20.0)
    assert "ended 3  set 2" in capsys.readouterr().err
    assert {c: e.outcome for c, e in progress.ends.by_caller.items()} == {
        "0690000001": "set", "0690000002": "failed_strikes", "0690000003": "set",
    }  # fmt: skip


def test_wait_returns_once_every_caller_ended(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    ends = Ends(CallLogReader.at_end(log), CALLERS)
    append(log, *(end_line(c, "set") for c in sorted(CALLERS)))
    assert set(ends.wait(CALLERS, timeout_s=5)) == CALLERS
    assert set(ends.wait(CALLERS | {"0690000009"}, timeout_s=0)) == CALLERS  # gives up
