"""`ivrctl calls tail` on sample call logs, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ivr.flow.calllog import (
    CALL_END,
    CALL_START,
    CALL_STRIKE,
    CallEnd,
    CallStart,
    CallStrike,
    LogLine,
    parse_line,
)
from ivr.ops.calls_tail import Filter, parse_since, render
from tests.stackutil import REPO

JST = timezone(timedelta(hours=9))
T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=JST)


def end(i: int, outcome: str = "set", caller: str = "0664806000", **extra: object) -> dict:
    """A call.end line as the service writes it (the event's own fields, then its envelope)."""
    rec = CallEnd(
        call_id=f"17400000{i:02d}.{i}",
        caller=caller,
        did="0664806430",
        unit="number",
        target="0664806001",
        outcome=outcome,
        step="done" if outcome == "set" else "password",
        strikes=0 if outcome == "set" else 3,
        duration_ms=41234 + i,
        answered=True,
    )
    stamp = (T0 + timedelta(minutes=i)).isoformat(timespec="milliseconds")
    return {**asdict(replace(rec, **extra)), "event": CALL_END, "level": "info", "timestamp": stamp}


def line(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False) + "\n"


SAMPLE = [
    line({"event": "agi.started", "level": "info", "timestamp": T0.isoformat()}),
    line({"event": CALL_START, **asdict(CallStart("x", "0664806000", "0664806430"))}),
    line(end(1)),
    "not json at all\n",
    line(end(2, "failed_strikes", caller="0312345678")),
    line({"event": CALL_STRIKE, **asdict(CallStrike("y", "password", "mismatch", 1))}),
    line(end(3, "rejected_anonymous", caller="anonymous", unit=None, target=None)),
    line(end(4, "error_store")),
    line(end(5)),
]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "calls.jsonl").write_text("".join(SAMPLE) + line(end(6))[:40])  # a cut last line
    return tmp_path


def ivrctl(state: Path, *args: str, tz: str = "Asia/Tokyo") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, IVR_STATE_DIR=str(state), TZ=tz)
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "calls", "tail", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_last_n_readable_lines_in_local_time(state: Path) -> None:
    out = ivrctl(state, "-n", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2025-03-01 09:04:00  0664806000   → 0664806430")
    for field in ("number", "0664806001", "error_store", "step=password", "strikes=3", "41.2s"):
        assert field in lines[0]
    assert "\x1b[" not in out.stdout  # no colour when stdout is not a terminal
    # The same calls seen from another zone: the time is converted to local time.
    utc = ivrctl(state, "-n", "1", tz="UTC").stdout
    assert utc.startswith("2025-03-01 00:05:00  0664806000")


def test_default_shows_every_finished_call_and_only_those(state: Path) -> None:
    lines = ivrctl(state).stdout.splitlines()
    assert len(lines) == 5  # five call.end lines; other events, garbage, the cut line skipped
    assert "anonymous" in lines[2] and " - " in lines[2]  # no unit/target shown as -


def test_json_passes_lines_through_unchanged(state: Path) -> None:
    out = ivrctl(state, "--json", "-n", "3").stdout
    assert out == SAMPLE[6] + SAMPLE[7] + SAMPLE[8]


def test_filters(state: Path) -> None:
    out = ivrctl(state, "--json", "--outcome", "failed_strikes").stdout
    assert out == SAMPLE[4]
    out = ivrctl(state, "--json", "--caller", "03-1234-5678").stdout
    assert out == SAMPLE[4]
    out = ivrctl(state, "--json", "--since", "2025-03-01T09:04:00+09:00").stdout
    assert out == SAMPLE[7] + SAMPLE[8]
    out = ivrctl(state, "--json", "--since", "2025-03-01T00:03:30", tz="UTC").stdout
    assert out == SAMPLE[7] + SAMPLE[8]  # a time without offset is local time
    assert ivrctl(state, "--since", "1d").stdout == ""  # the sample is long past


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "yesterday"], "--since: 'yesterday' is neither ISO 8601"),
        (["--outcome", "bogus"], "invalid choice: 'bogus'"),
        (["-n", "-3"], "-n must not be negative"),
    ],
)
def test_bad_input_is_one_clear_line(state: Path, args: list[str], message: str) -> None:
    out = ivrctl(state, *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_log_says_where_it_looked(tmp_path: Path) -> None:
    out = ivrctl(tmp_path)
    assert out.returncode == 1
    assert str(tmp_path / "logs" / "calls.jsonl") in out.stderr


def parsed(rec: dict) -> LogLine:
    got = parse_line(line(rec))
    assert got is not None
    return got


def test_render_colours_the_outcome_only_when_asked() -> None:
    rec = parsed(end(1, "error_internal"))
    assert "\x1b[31merror_internal" in render(rec, colour=True)
    assert "\x1b[" not in render(rec, colour=False)
    assert "\x1b[32mset" in render(parsed(end(1)), colour=True)


def test_parse_since_and_filter() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=JST)
    assert parse_since("15m", now) == now - timedelta(minutes=15)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("2025-03-01T10:00+09:00") == datetime(2025, 3, 1, 10, tzinfo=JST)
    flt = Filter(since=parse_since("2025-03-01T09:03:00+09:00"))
    assert [flt.accepts(parsed(end(i))) for i in (2, 3, 4)] == [False, True, True]
    assert not flt.accepts(parsed({**end(4), "timestamp": "garbage"}))
    assert not Filter().accepts(parsed({"event": CALL_START, **asdict(CallStart("x", None, ""))}))
