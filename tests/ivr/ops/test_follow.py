"""`calls tail -f` across both kinds of rotation: no line lost, none printed twice."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

from ivr.ops.calls_tail import Filter, Printer, tail
from ivr.ops.follow import Follower
from ivr.service.logsink import ReopenableSink
from tests.ivr.ops.test_calls_tail import end, line


def seqs(raws: list[bytes]) -> list[int]:
    return [int(r.split(b'"n": ')[1].split(b",")[0]) for r in raws]


def rec(n: int) -> str:
    return f'{{"n": {n}, "event": "call.end", "pad": "{"x" * (n % 50)}"}}\n'


def test_rename_and_create_reads_the_old_file_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    sink = ReopenableSink(log)
    fol = Follower(log, grace_s=0.2)
    got: list[bytes] = []
    for n in range(0, 5):
        sink.write(rec(n))
    got += fol.poll()
    sink.write(rec(5))
    os.rename(log, tmp_path / "calls.jsonl.1")
    sink.write(rec(6))  # the writer has not reopened yet: into the renamed file
    got += fol.poll()  # sees the new path does not exist yet
    sink.reopen()
    sink.write(rec(7))
    got += fol.poll()  # old file drained, new file opened from its start
    sink.write(rec(8))
    got += fol.poll()
    assert seqs(got) == list(range(9))
    deadline = time.monotonic() + 5
    while fol._old and time.monotonic() < deadline:  # the old file is let go after the grace
        fol.poll()
        time.sleep(0.05)
    assert fol._old == []
    fol.close()
    sink.close()


def test_copytruncate_recovers_unread_lines_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    sink = ReopenableSink(log)
    fol = Follower(log)
    got: list[bytes] = []
    for n in range(0, 4):
        sink.write(rec(n))
    got += fol.poll()
    sink.write(rec(4))
    os.write(sink._fd, rec(5)[:10].encode())  # the follower sees half a line ...
    got += fol.poll()
    os.write(sink._fd, rec(5)[10:].encode())  # ... the writer finishes it
    sink.write(rec(6))  # written, not yet read, when logrotate copies and truncates
    shutil.copyfile(log, tmp_path / "calls.jsonl.1")
    os.truncate(log, 0)
    for n in range(7, 40):  # the new content grows past the follower's old offset
        sink.write(rec(n))
    got += fol.poll()
    assert seqs(got) == list(range(40))
    shutil.copyfile(log, tmp_path / "calls.jsonl.1")  # a second rotation, follower up to date
    os.truncate(log, 0)
    sink.write(rec(40))
    got += fol.poll()
    assert seqs(got) == list(range(41))
    fol.close()
    sink.close()


def test_tail_f_follows_a_live_writer_across_both_rotations(tmp_path: Path) -> None:
    """The command's loop in a thread, a writer thread, rotations in between."""
    log = tmp_path / "logs" / "calls.jsonl"
    sink = ReopenableSink(log)
    out = io.StringIO()
    stop = threading.Event()
    printer = Printer(out, Filter(), as_json=True, colour=False)
    lines = [line(end(i % 60, caller=f"06648060{i:02d}")) for i in range(90)]
    sink.write(lines[0])
    sink.write(lines[1])
    follower = threading.Thread(
        target=tail, args=(log, printer), kwargs=dict(n=1, follow=True, stop=stop, poll_s=0.01)
    )
    follower.start()

    def printed() -> int:
        return out.getvalue().count("\n")

    def wait(count: int) -> None:
        deadline = time.monotonic() + 10
        while printed() < count:
            assert time.monotonic() < deadline, f"only {printed()} of {count} lines printed"
            time.sleep(0.01)

    try:
        _rotate_while_following(log, sink, lines, wait)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()
    assert out.getvalue() == "".join(lines[1:])  # -n 1, then every line once, in order
    sink.close()


def _rotate_while_following(log: Path, sink: ReopenableSink, lines: list[str], wait) -> None:
    wait(1)  # the initial -n 1 is out: from here on every line must follow
    for i in range(2, 30):
        sink.write(lines[i])
    wait(29)
    os.rename(log, log.with_name("calls.jsonl.1"))  # logrotate's default: rename, create
    for i in range(30, 40):
        sink.write(lines[i])
    sink.reopen()  # SIGHUP from postrotate
    for i in range(40, 60):
        sink.write(lines[i])
    wait(59)
    shutil.copyfile(log, log.with_name("calls.jsonl.1"))  # copytruncate
    os.truncate(log, 0)
    for i in range(60, 90):
        sink.write(lines[i])
    wait(89)
