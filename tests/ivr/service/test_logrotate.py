"""The real logrotate, with the shipped snippet, against a process writing continuously
through ReopenableSink: every line is in exactly one of the current and rotated files."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.deploy import procs
from ivr.service.logsink import ReopenableSink
from tests.stackutil import REPO

SNIPPET = REPO / "docker" / "logrotate" / "ivr"
WRITER = Path(__file__).with_name("logwriter.py")
ROTATIONS = 3


def lines_in(path: Path) -> list[int]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), f"{path.name} ends mid-line"
    return [json.loads(line)["n"] for line in raw.splitlines()]


def count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.fixture
def state(tmp_path: Path):
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    yield state
    procs.stop("agi", run_dir=state / "run")  # the writer, by its recorded pid


def test_logrotate_loses_and_duplicates_no_line(state: Path, tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text(SNIPPET.read_text().replace("/var/lib/ivr", str(state)))
    log, run = state / "logs" / "calls.jsonl", state / "run"
    procs.start(
        "agi",
        [sys.executable, str(WRITER), str(state)],
        run_dir=run,
        log=state / "logs" / "agi.out",
    )
    assert procs.wait_for(lambda: count(log) >= 100, 20), "the writer wrote nothing"
    for r in range(ROTATIONS):
        rotated = subprocess.run(
            ["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rotated.returncode == 0, rotated.stderr
        # Lines reach the new file only once the writer reopened it on SIGHUP.
        assert procs.wait_for(lambda: count(log) >= 100, 20), f"no line after rotation {r + 1}"
        assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert procs.stop("agi", run_dir=run)
    written, reopened = map(int, (state / "writer.done").read_text().split())
    assert reopened == ROTATIONS
    files = sorted(state.glob("logs/calls.jsonl*"))
    names = {p.name for p in files}
    assert names == {"calls.jsonl", "calls.jsonl.1", "calls.jsonl.2.gz", "calls.jsonl.3.gz"}
    seen: list[int] = []
    for path in sorted(
        files, key=lambda p: -int(p.name.split(".")[2]) if p.name != "calls.jsonl" else 0
    ):
        part = lines_in(path)
        assert part, f"{path.name} is empty"
        assert part == list(range(part[0], part[0] + len(part))), f"a gap inside {path.name}"
        seen += part
    assert seen == list(range(written)), "lost or duplicated lines across the rotated files"
    assert (state / "logs" / "agi.out.1").exists()  # the copytruncate stanza ran too


def test_reopen_without_rotation_keeps_writing_the_same_file(tmp_path: Path) -> None:
    sink = ReopenableSink(tmp_path / "calls.jsonl")
    sink.write('{"n": 0}')
    sink.reopen()
    sink.write('{"n": 1}\n')
    sink.close()
    sink.write('{"n": 2}')  # after close: dropped, not an error
    assert (tmp_path / "calls.jsonl").read_text() == '{"n": 0}\n{"n": 1}\n'


def test_sighup_reopens_from_the_event_loop(tmp_path: Path) -> None:
    import asyncio  # noqa: PLC0415

    from ivr.service.logsink import reopen_on_sighup  # noqa: PLC0415

    async def scenario() -> int:
        sink = ReopenableSink(tmp_path / "calls.jsonl")
        loop = asyncio.get_running_loop()
        reopen_on_sighup(loop, sink)
        try:
            os.rename(tmp_path / "calls.jsonl", tmp_path / "calls.jsonl.1")
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(200):
                if sink.reopened:
                    break
                await asyncio.sleep(0.01)
            sink.write("after")
            return sink.reopened
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            sink.close()

    assert asyncio.run(scenario()) == 1
    assert (tmp_path / "calls.jsonl").read_text() == "after\n"
    assert (tmp_path / "calls.jsonl.1").read_text() == ""
