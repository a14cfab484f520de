"""The history checker on made-up histories: it passes clean ones and catches each anomaly."""

from __future__ import annotations

import json

from benchmarks.jepsen.checker import SetOp, VerifyOp, check, read_history

N = "0610000001"


def s(call: str, start: float, end: float, outcome: str = "set") -> SetOp:
    return SetOp(N, call, start, end, outcome)


def v(call: str, start: float, answer: str) -> VerifyOp:
    return VerifyOp(N, call, start, start + 0.1, answer)


def test_clean_history_passes():
    sets = [s("a", 0, 1), s("b", 5, 6)]
    verifies = [v("a", 2, "ok"), v("a", 7, "wrong"), v("b", 7.5, "ok"), v("b", 20, "ok")]
    report = check(sets, verifies)
    assert report.ok, report.anomalies
    assert (report.sets, report.acknowledged, report.verifies) == (2, 2, 4)


def test_lost_write_detected():
    report = check([s("a", 0, 1)], [v("a", 3, "none")])
    assert [(a.kind, a.call_id) for a in report.anomalies] == [("lost", "a")]


def test_stale_write_detected():
    # b replaced a for sure (began after a ended, ended before the verify): a must not verify
    report = check([s("a", 0, 1), s("b", 2, 3)], [v("a", 4, "ok")])
    assert [(a.kind, a.call_id) for a in report.anomalies] == [("stale", "a")]
    # and b, the later one, is then lost if it does not verify
    report = check([s("a", 0, 1), s("b", 2, 3)], [v("b", 4, "wrong")])
    assert [a.kind for a in report.anomalies] == ["lost"]


def test_phantom_detected():
    # a call that never reached the commit cannot have written a password
    report = check([s("a", 0, 1, "failed_strikes")], [v("a", 2, "ok")])
    assert [a.kind for a in report.anomalies] == ["phantom"]


def test_unknown_outcome_may_or_may_not_have_applied():
    # b's acknowledgement is unknown: either a or b may verify, and neither is lost
    sets = [s("a", 0, 1), s("b", 2, 3, "error_store")]
    for verifies in ([v("a", 4, "ok"), v("b", 4.5, "wrong")], [v("b", 4, "ok")]):
        assert check(sets, verifies).ok
    # a set concurrent with the verify may or may not be seen
    assert check([s("a", 0, 1), s("b", 3.9, 4.5)], [v("a", 4, "ok"), v("b", 4.2, "none")]).ok


def test_locked_explained_only_by_enough_wrong_answers():
    sets = [s("a", 0, 1)]
    wrongs = [v("zzz", 2, "wrong"), v("zzz", 3, "wrong"), v("zzz", 4, "locked")]
    assert check(sets, [*wrongs, v("a", 5, "locked")]).ok
    report = check(sets, [*wrongs[:2], v("a", 5, "locked")])
    assert [a.kind for a in report.anomalies] == ["lost"]


def test_errors_are_not_answers(tmp_path):
    assert check([s("a", 0, 1)], [v("a", 2, "error")]).verifies == 0
    path = tmp_path / "h.jsonl"
    lines = [
        {"event": "call.end", "caller": N, "call_id": "a", "outcome": "set",
         "t_start": 0, "t_end": 1},
        {"event": "verify", "number": N, "call_id": "a", "answer": "none",
         "t_start": 2, "t_end": 2.1},
        {"event": "call.start", "call_id": "x"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    sets, verifies = read_history([path])
    assert check(sets, verifies).count("lost") == 1
