"""The newcomer's first call: `make run` (ivrctl run --demo) on an empty directory, then the
README's `ivrctl call` as written sets a password that the web site's check accepts."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.stackutil import IVRCTL, REPO, Stack, alive

pytestmark = pytest.mark.e2e


def _start_run(stack: Stack, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*IVRCTL, "run", *extra],
        env=stack.env,
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float = 120) -> str:
    assert proc.stdout is not None
    out, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # the child prints its hint then waits
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    raise AssertionError("".join(out))


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    return rest


@pytest.fixture
def running(tmp_path):
    stack = Stack.new(tmp_path / "state")
    proc = _start_run(stack, "--demo")
    try:
        head = _read_until(proc, "Ctrl-C stops everything")
        yield stack, head
    finally:
        if proc.poll() is None:
            _stop(proc)
    assert not any(alive(pid) for pid in stack.pids().values())


def test_readme_first_call_sets_a_password(running):
    stack, head = running
    assert "demo subscribers loaded" in head and "0690099990" in head
    assert "Call it: .venv/bin/ivrctl call" in head
    proc = stack.ivrctl("call", timeout=150)  # the README's command, defaults only
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("  heard tpw/unit_menu  「仮パスワードの設定")
    assert "  keys  1" in lines
    assert "  keys  ••••••••" in lines and "24681357" not in proc.stdout
    assert "  heard tpw/done  「番の仮パスワードの設定が完了しました。" in proc.stdout
    assert lines[-2].startswith("outcome: set (step done, unit line, target 0690099990")
    assert lines[-1] == "tpw verify 0690099990: ok"
    verify = stack.ivrctl("tpw", "verify", "0690099990", "-", stdin="24681357\n")
    assert verify.stdout.strip() == "ok"


def test_wrong_menu_key_is_heard_as_invalid(running):
    stack, _ = running
    proc = stack.ivrctl(
        "call", "--from", "0690099991", "--keys", "4,1,13572468,13572468", timeout=150
    )
    lines = proc.stdout.splitlines()
    assert lines[1:4] == [
        lines[1],
        "  keys  4",
        "  heard tpw/invalid  「入力された番号が正しくありません。もう一度押してください。」",
    ]
    assert "strikes 0" in lines[-2] and lines[-1] == "tpw verify 0690099991: ok"
    strike = stack.wait_for_line(lambda e: e.strike is not None).strike
    assert strike is not None and (strike.step, strike.reason) == ("menu", "invalid_key")


def test_demo_only_with_the_flag_and_an_empty_directory(tmp_path):
    stack = Stack.new(tmp_path / "state")
    proc = _start_run(stack)  # `ivrctl run` without --demo: nothing loaded
    try:
        head = _read_until(proc, "Ctrl-C stops everything")
    finally:
        _stop(proc)
    assert "demo" not in head.split("Call it")[0]
    assert json.loads(stack.ivrctl("subscribers", "list", "--json").stdout) == []
    csv = tmp_path / "one.csv"
    csv.write_text("contract_number,number\n0311112222,0311112222\n")
    stack.ivrctl("subscribers", "import", str(csv))
    proc = _start_run(stack, "--demo")  # a directory with numbers: no demo either
    try:
        head = _read_until(proc, "Ctrl-C stops everything")
    finally:
        _stop(proc)
    assert "demo subscribers loaded" not in head
    numbers = [
        s["number"] for s in json.loads(stack.ivrctl("subscribers", "list", "--json").stdout)
    ]
    assert numbers == ["0311112222"]
