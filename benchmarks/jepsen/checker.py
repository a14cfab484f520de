"""The history checker: did the store keep every password a caller heard 完了 for?

Input: every set (a call's `call.end`: outcome `set` = acknowledged, `error_store` = fate
unknown, anything else = never written) and every web-side verify, each with its start and
end time, and the call whose password the verify tried (passwords themselves are never in
a history: the harness derives each from its call id with a secret kept in memory).

Rules, per number (one temporary password per number; nothing else clears it here):
- a set S *may be current* at a verify V when S may have taken effect (acknowledged or
  unknown), began before V ended, and no acknowledged set D began after S ended and ended
  before V began (D then surely replaced S);
- S *must be current* at V when S is acknowledged, ended before V began, and no other
  set that may have taken effect began before V ended unless it surely ended before S began.
- V answered `ok` for S's password: S must have been possibly current, else the verify
  read a replaced password (`stale`) or one never written (`phantom`);
- V answered anything else (`wrong`, `none`, `locked`, `expired`) while S must be current:
  the acknowledged password is gone (`lost`), unless at least MAX_FAILURES wrong answers
  after S's start explain a `locked`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ACKED, UNKNOWN = "set", "error_store"
MAX_FAILURES = 3


@dataclass(frozen=True)
class SetOp:
    number: str
    call_id: str
    start: float
    end: float
    outcome: str

    @property
    def may_apply(self) -> bool:
        return self.outcome in (ACKED, UNKNOWN)


@dataclass(frozen=True)
class VerifyOp:
    number: str
    call_id: str  # the set whose password was tried
    start: float
    end: float
    answer: str  # ok, wrong, none, locked, expired; "error" (store unavailable) is ignored


@dataclass(frozen=True)
class Anomaly:
    kind: str  # lost, stale, phantom
    number: str
    call_id: str
    at: float
    answer: str


@dataclass
class Report:
    sets: int = 0
    acknowledged: int = 0
    verifies: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.anomalies if a.kind == kind)

    @property
    def ok(self) -> bool:
        return not self.anomalies

    @property
    def lost_sets(self) -> int:
        """Distinct acknowledged sets found lost (several verifies may see one)."""
        return len({a.call_id for a in self.anomalies if a.kind == "lost"})

    def summary(self) -> str:
        return (
            f"sets {self.sets} (acknowledged {self.acknowledged}), verifies {self.verifies}: "
            f"acknowledged passwords lost {self.lost_sets} ({self.count('lost')} verifies), "
            f"stale {self.count('stale')}, phantom {self.count('phantom')}"
        )


def _superseded(s: SetOp, before: float, sets: list[SetOp]) -> bool:
    """An acknowledged set surely replaced s before `before`."""
    return any(
        d.outcome == ACKED and d is not s and d.start > s.end and d.end < before for d in sets
    )


def _may_be_current(s: SetOp, v: VerifyOp, sets: list[SetOp]) -> bool:
    return s.may_apply and s.start < v.end and not _superseded(s, v.start, sets)


def _must_be_current(s: SetOp, v: VerifyOp, sets: list[SetOp]) -> bool:
    if s.outcome != ACKED or s.end >= v.start:
        return False
    return not any(
        o is not s and o.may_apply and o.start < v.end and not o.end < s.start for o in sets
    )


def check(sets: Iterable[SetOp], verifies: Iterable[VerifyOp]) -> Report:
    by_number: dict[str, list[SetOp]] = defaultdict(list)
    by_call: dict[str, SetOp] = {}
    report = Report()
    for s in sets:
        by_number[s.number].append(s)
        by_call[s.call_id] = s
        report.sets += 1
        report.acknowledged += s.outcome == ACKED
    answered = [v for v in verifies if v.answer != "error"]
    wrongs: dict[str, list[float]] = defaultdict(list)
    for v in answered:
        if v.answer in ("wrong", "locked"):
            wrongs[v.number].append(v.start)
    for v in sorted(answered, key=lambda v: v.start):
        report.verifies += 1
        mine = by_call.get(v.call_id)
        peers = by_number[v.number]
        if v.answer == "ok":
            if mine is None or not mine.may_apply or mine.start >= v.end:
                report.anomalies.append(Anomaly("phantom", v.number, v.call_id, v.start, v.answer))
            elif not _may_be_current(mine, v, peers):
                report.anomalies.append(Anomaly("stale", v.number, v.call_id, v.start, v.answer))
            continue
        if mine is None or not _must_be_current(mine, v, peers):
            continue
        explained = v.answer == "locked" and (
            sum(1 for t in wrongs[v.number] if mine.start < t < v.start) >= MAX_FAILURES
        )
        if not explained:
            report.anomalies.append(Anomaly("lost", v.number, v.call_id, v.start, v.answer))
    return report


def read_history(paths: Iterable[Path]) -> tuple[list[SetOp], list[VerifyOp]]:
    """The sets (call.end lines with t_start/t_end) and verifies of JSONL history files."""
    sets, verifies = [], []
    for path in paths:
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            if line.get("event") == "call.end":
                sets.append(SetOp(line["caller"], line["call_id"], line["t_start"],
                                  line["t_end"], line["outcome"]))  # fmt: skip
            elif line.get("event") == "verify":
                verifies.append(VerifyOp(line["number"], line["call_id"], line["t_start"],
                                         line["t_end"], line["answer"]))  # fmt: skip
    return sets, verifies
