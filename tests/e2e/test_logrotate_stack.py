"""The real `logrotate`, with the shipped snippet, against a running stack during SIPp calls:
the FastAGI server reopens its call log on SIGHUP (same pid), every call's `call.end` is in
exactly one of the current and rotated files, and no password is in any of them."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import time
from pathlib import Path

import pytest

from ivr.flow.calllog import LogLine, parse_line
from ivr.flow.outcomes import Outcome
from loadgen.rtp_pcap import keys_at
from loadgen.sipp import CallSpec, run_call
from tests.stackutil import REPO

pytestmark = pytest.mark.e2e

SNIPPET = REPO / "docker" / "logrotate" / "ivr"
SET = {"0680000001": "30571948", "0680000002": "41682059", "0680000003": "52793160"}
ABANDON = ("0680000011", "0680000012", "0680000013")
SUBSCRIBERS = "contract_number,number\n" + "".join(f"{n},{n}\n" for n in (*SET, *ABANDON))
ROTATE_AT_S = (2.5, 5.5, 8.5)  # while calls are in progress
START_EVERY_S = 1.0


def spec(caller: str) -> CallSpec:
    if caller in SET:
        pw = SET[caller]
        schedule = keys_at(1.0, "1", 0.3) + keys_at(2.5, pw, 0.3) + keys_at(6.0, pw, 0.3)
        return CallSpec(did="0664806430", caller_from=caller, schedule=schedule, timeout_s=60)
    return CallSpec(
        did="0664806430",
        caller_from=caller,
        hangup_after_s=3.0,
        expect_service_bye=False,
        timeout_s=30,
    )


def logrotate(conf: Path, state: Path) -> None:
    done = subprocess.run(
        ["logrotate", "-f", "-s", str(state), str(conf)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


async def calls_while_rotating(stack, workdir: Path, conf: Path, lr_state: Path) -> list:
    async def delayed(i: int, caller: str):
        await asyncio.sleep(i * START_EVERY_S)
        return await run_call(spec(caller), "127.0.0.1", stack.sip_port, workdir)

    async def rotations() -> None:
        waited = 0.0
        for at in ROTATE_AT_S:
            await asyncio.sleep(at - waited)
            waited = at
            await asyncio.to_thread(logrotate, conf, lr_state)

    callers = [c for pair in zip(SET, ABANDON, strict=True) for c in pair]
    *results, _ = await asyncio.gather(*(delayed(i, c) for i, c in enumerate(callers)), rotations())
    return results


def read_any(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def all_lines(log: Path) -> list[bytes]:
    """Every line of the call log, current and rotated files (compressed ones too)."""
    lines: list[bytes] = []
    for path in log.parent.glob(log.name + "*"):
        raw = read_any(path)
        assert raw == b"" or raw.endswith(b"\n"), f"{path.name} ends mid-line"
        lines += raw.splitlines()
    return lines


def parsed(lines: list[bytes]) -> list[LogLine]:
    """The lines as call-log events; each one must be one."""
    events = [parse_line(raw) for raw in lines]
    assert None not in events, "a line that is not a call-log event"
    return [e for e in events if e is not None]


def ended_callers(log: Path) -> list[str]:
    return sorted(str(e.end.caller) for e in parsed(all_lines(log)) if e.end is not None)


@pytest.fixture(scope="module")
def rotated(stack, tmp_path_factory):
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    work = tmp_path_factory.mktemp("logrotate")
    conf = work / "ivr.conf"
    conf.write_text(SNIPPET.read_text().replace("/var/lib/ivr", str(stack.state_dir)))
    pid_before = stack.pids()["agi"]
    results = asyncio.run(
        calls_while_rotating(stack, tmp_path_factory.mktemp("sipp"), conf, work / "state")
    )
    deadline = time.monotonic() + 15  # the last lines are written just after the calls end
    while len(ended_callers(stack.calls_log)) < len(SET) + len(ABANDON):
        assert time.monotonic() < deadline, ended_callers(stack.calls_log)
        time.sleep(0.1)
    return results, pid_before


def test_calls_went_as_planned(rotated):
    results, _ = rotated
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]


def test_server_reopened_its_log_without_restarting(stack, rotated):
    _, pid_before = rotated
    assert stack.pids()["agi"] == pid_before
    rotated_files = sorted(p.name for p in stack.calls_log.parent.glob("calls.jsonl.*"))
    assert rotated_files == ["calls.jsonl.1", "calls.jsonl.2.gz", "calls.jsonl.3.gz"]
    # The current file was created by logrotate and then written by the same server.
    assert stack.calls_log.stat().st_mode & 0o777 == 0o600
    assert parsed(stack.calls_log.read_bytes().splitlines())


def test_every_call_end_exactly_once_and_no_line_twice(stack, rotated):
    lines = all_lines(stack.calls_log)
    assert len(lines) == len(set(lines)), "a line was written twice"
    events = parsed(lines)
    ends = [e.end for e in events if e.end is not None]
    by_caller = sorted(str(e.caller) for e in ends)
    assert by_caller == sorted((*SET, *ABANDON))
    outcomes = {e.caller: e.outcome for e in ends}
    assert {outcomes[c] for c in SET} == {Outcome.SET}
    assert {outcomes[c] for c in ABANDON} == {Outcome.ABANDONED}
    # Each call.start has its call.end: the rotation split no call's lines from the log.
    starts = {e.start.call_id for e in events if e.start is not None}
    assert starts <= {e.call_id for e in ends}


def test_no_password_in_the_state_dir_rotated_logs_included(stack, rotated):
    scanned, leaks = [], []
    for path in stack.state_dir.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = read_any(path)
        scanned.append(path.name)
        leaks += [(str(path), pw) for pw in SET.values() if pw.encode() in data]
    assert leaks == []
    assert {"calls.jsonl.3.gz", "calls.jsonl.2.gz", "calls.jsonl.1"} <= set(scanned)
    for caller, pw in SET.items():  # the passwords were really set: the scan looked for them
        ok = stack.ivrctl("tpw", "verify", caller, pw, check=False)
        assert ok.stdout.split()[0] == "ok"
