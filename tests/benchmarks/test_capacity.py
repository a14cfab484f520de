"""The capacity benchmark's verdicts, on made-up runs: which rate passes, and the ratios."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.capacity import Row, summary, table
from ivr.flow.calllog import CallEnd
from ivr.flow.outcomes import Outcome
from ivr.tools.load import LoadResult
from loadgen.runner import CallTimes, SippRun

KEYS_S, GOODBYE_S = 11.0, 5.0
END = CallEnd.from_record({})  # every field at its default; the tests set caller and outcome


def result(calls: int, *, n_set: int, wait_s: float, cpu: dict[str, float]) -> LoadResult:
    """``calls`` answered calls, ``n_set`` of them set, each waiting ``wait_s`` for 完了."""
    callers = [f"06900{i:05d}" for i in range(calls)]
    times = {
        c: CallTimes(c, start=0.0, answered=0.5, end=0.5 + KEYS_S + wait_s + GOODBYE_S)
        for c in callers
    }
    run = SippRun(exit_code=0, killed=False, cpu_s=0.0, elapsed_s=30.0, calls=times)
    outcome = {
        c: replace(END, caller=c, outcome=Outcome.SET if i < n_set else Outcome.FAILED_STRIKES)
        for i, c in enumerate(callers)
    }
    return LoadResult(
        calls=calls, rate=1.0, run=run, ends=outcome,
        verified={c: "ok" for c in callers[:n_set]},
        cpu_used={k: v * calls for k, v in cpu.items()},
        last_key_s=KEYS_S, goodbye=dict.fromkeys(callers, GOODBYE_S),
    )  # fmt: skip


def test_rates_pass_when_every_call_sets_and_on_time_when_the_wait_is_short() -> None:
    rows = [
        Row("b", 40, result(10, n_set=10, wait_s=0.3, cpu={"asterisk": 0.045})),
        Row("b", 80, result(10, n_set=10, wait_s=5.0, cpu={"asterisk": 0.045})),
        Row("a", 20, result(10, n_set=10, wait_s=0.2, cpu={"asterisk": 0.045, "agi": 0.030})),
        Row("a", 40, result(10, n_set=9, wait_s=0.2, cpu={"asterisk": 0.045, "agi": 0.030})),
        Row("c", 2, result(10, n_set=10, wait_s=0.3, cpu={"asterisk": 0.645})),
    ]
    assert [r.on_time for r in rows] == [True, False, True, False, True]
    lines = summary(rows)
    assert lines[0] == "(a) service: every call set up to 20/s; on time (完了 p95 ≤ 2 s) up to 20/s"
    assert lines[1] == (
        "(b) Asterisk alone: every call set up to 80/s (the highest tried);"
        " on time (完了 p95 ≤ 2 s) up to 40/s"
    )
    assert "(a)/(b), every call set: 25%" in lines
    assert "(a)/(b), on time: 50%" in lines
    assert lines[-1].endswith("(c)/(a) = 20.0")  # (645 - 45) / 30
    assert "| (a) service | 40/s | 10 | 9/10 |" in table(rows)


def test_pin_moves_every_thread_of_a_process_tree() -> None:
    """--pin's pinning: a parent and its child, each with its threads, land on one core."""
    import os
    import subprocess
    import sys

    from benchmarks.capacity import pin

    code = (
        "import subprocess, sys, threading, time;"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start();"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(c.pid, flush=True); sys.stdin.read(); c.kill(); c.wait()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())
        assert pin(parent.pid, {0}) >= 3  # the parent's two threads and the child's one
        for pid in (parent.pid, child):
            for task in os.listdir(f"/proc/{pid}/task"):
                assert os.sched_getaffinity(int(task)) == {0}
    finally:
        parent.communicate("", timeout=30)
