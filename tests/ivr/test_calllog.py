"""The call log: JSON Lines in a file and on stdout, one call.end, never a password."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ivr.flow import calllog
from ivr.flow.calllog import CALL_END_FIELDS, CallEnd, CallStrike, log_call_end, log_call_event
from ivr.flow.outcomes import CallInfo, CallResult, Outcome, Step
from ivr.flow.ports import CallerHangup
from ivr.service.logsink import REDACTED, configure_logging
from store.types import Unit
from tests.ivr.conftest import CONTRACT, DID, PW, PW2, Dial
from tests.ivr.fakes import key, pound

BYE = CallerHangup()
INFO = CallInfo(call_id="call-1", caller_raw=CONTRACT, did=DID)


def read_lines(path: Path) -> list[dict]:
    """The lines as JSON objects: what `jq` and the web site's tools see."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ends(path: Path) -> list[CallEnd]:
    return [line.end for line in calllog.read_lines(path)[0] if line.end is not None]


# docs/interfaces.md (and issue 12's `answered`), spelled out here on purpose: the
# promise the code is checked against.
INTERFACE_FIELDS = (
    "call_id", "caller", "did", "unit", "target", "outcome", "step", "strikes", "duration_ms",
    "answered",
)  # fmt: skip


def test_call_end_has_exactly_the_interface_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / "calls.jsonl"  # parent created on demand
    sink = configure_logging(path)
    result = CallResult(Outcome.SET, Step.DONE, 0, Unit.ADMIN_USER, CONTRACT, CONTRACT, 1234)
    log_call_end(INFO, result, 1234)
    sink.close()
    (line,) = read_lines(path)
    assert CALL_END_FIELDS == INTERFACE_FIELDS
    assert set(line) == {"event", "timestamp", "level", *INTERFACE_FIELDS}
    assert line["event"] == "call.end"
    (end,) = ends(path)
    assert (end.unit, end.outcome, end.step) == ("admin_user", "set", "done")
    assert (end.caller, end.did, end.target) == (CONTRACT, DID, CONTRACT)
    assert (end.strikes, end.duration_ms) == (0, 1234)
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert json.loads(capsys.readouterr().out) == line  # the same line on stdout


def test_unit_null_and_no_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calls.jsonl"
    sink = configure_logging(path, stdout=False)
    result = CallResult(Outcome.REJECTED_ANONYMOUS, Step.CALLER_CHECK, 0, None, None, None)
    log_call_end(CallInfo("c2", None, DID), result, 5)
    log_call_end(CallInfo("c3", None, DID), result, 6)
    sink.close()
    found = ends(path)
    assert [end.call_id for end in found] == ["c2", "c3"]  # appended, one per line
    assert found[0].unit is None and found[0].caller is None
    assert capsys.readouterr().out == ""


def test_secret_fields_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    sink = configure_logging(path, stdout=False)
    log_call_event(
        "call.debug",
        INFO,
        password=PW,
        pin=PW,
        keyed_digits=PW,
        dtmf=PW,
        extra={"new_password": PW, "keys": PW},
        step="password",  # a step named "password" is not a secret field
    )
    sink.close()
    text = path.read_text(encoding="utf-8")
    assert PW not in text
    (line,) = read_lines(path)
    assert line["password"] == line["pin"] == line["keyed_digits"] == REDACTED
    assert line["extra"] == {"new_password": REDACTED, "keys": REDACTED}
    assert line["step"] == "password"


async def test_a_whole_call_never_logs_the_password(dial: Dial, tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    sink = configure_logging(path, stdout=False)
    # a strike at every entry kind, a mismatch, then success
    await dial(key("0"), key("2"), pound("0312345678"), pound(CONTRACT), key(PW), key(PW2), BYE)
    call = await dial(key("1"), key(PW), key(PW))
    log_call_end(INFO, call.result, call.result.duration_ms)
    sink.close()
    text = path.read_text(encoding="utf-8")
    assert PW not in text and PW2 not in text
    events = [line["event"] for line in read_lines(path)]
    assert events.count("call.end") == 1
    assert "call.start" in events and "call.strike" in events


async def test_strikes_are_logged_with_step_and_reason(dial: Dial) -> None:
    with capture_logs() as logs:
        await dial(key("*"), key("2"), pound("0312345678"), pound(CONTRACT), key(PW), key(PW2), BYE)
    strikes = [
        (s.step, s.reason, s.strikes)
        for s in (CallStrike.from_record(e) for e in logs if e["event"] == calllog.CALL_STRIKE)
    ]
    assert strikes == [
        ("menu", "invalid_key", 1),
        ("target", "not_in_contract", 1),
        ("password", "mismatch", 1),
    ]
    assert all(PW not in repr(e) and PW2 not in repr(e) for e in logs)
