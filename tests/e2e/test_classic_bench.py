"""Capacity benchmark (c) end to end: load calls to the classic DID, one pyst2 process each.

The stack is the real one with benchmarks.classic installed before `stack up`; the calls are
`ivrctl load`'s (SIPp, callers of the reserved test range, unit 1 and one password twice),
and each must end `set` in the call log, written by the script itself, with a password the
web site's check accepts. Neither the password nor its digits may appear in any log.
"""

from __future__ import annotations

import secrets

import pytest

from benchmarks.classic.install import DID, install
from ivr.config.settings import Settings
from ivr.flow.calllog import CallLogReader, LogLine
from ivr.flow.outcomes import Outcome, Step
from ivr.tools import plan, testrange
from ivr.tools.plan import load_schedule as schedule
from loadgen.runner import run_load
from store.types import Unit
from tests.e2e.conftest import E2E_ENV
from tests.stackutil import Stack

pytestmark = pytest.mark.e2e
CALLS = 5


@pytest.fixture(scope="module")
def classic(tmp_path_factory):
    stack = Stack.new(tmp_path_factory.mktemp("classic"), **E2E_ENV)
    install(Settings.from_env(stack.env))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def _ends(reader: CallLogReader, callers: list[str], timeout_s: float = 15.0):
    """call.end lines of these callers, waiting for the last ones to be written."""
    found: dict[str, LogLine] = {}

    def complete(line: LogLine) -> bool:
        if line.end is not None and line.end.caller in callers:
            found[line.end.caller] = line
        return len(found) == len(callers)

    reader.until(complete, timeout_s)
    return found


def test_classic_calls_set_passwords_that_verify(classic, tmp_path):
    settings = Settings.from_env(classic.env)
    callers = plan.test_numbers(CALLS)
    password = "".join(secrets.choice("0123456789") for _ in range(8))
    testrange.import_numbers(settings, callers)
    reader = CallLogReader.at_end(settings.calls_log)
    run = run_load(
        callers=callers, rate=5, did=DID, sip_host=settings.sip_host, sip_port=settings.sip_port,
        schedule=schedule(password), workdir=tmp_path / "sipp", call_timeout_s=60,
    )  # fmt: skip
    lines = _ends(reader, callers)
    ends = {c: line.end for c, line in lines.items() if line.end is not None}
    assert {c: e.outcome for c, e in ends.items()} == dict.fromkeys(callers, Outcome.SET), (
        run.errors_tail
    )
    for caller, end in ends.items():
        assert lines[caller].data["source"] == "classic" and end.answered is True
        assert end.did == DID and end.unit == Unit.LINE and end.target == caller
        assert end.step == Step.DONE and end.strikes == 0
    verified = testrange.verify_all(settings, dict.fromkeys(callers, password))
    assert verified == dict.fromkeys(callers, "ok")
    for name in ("calls.jsonl", "asterisk.out"):
        assert password not in (settings.log_dir / name).read_text(errors="replace"), name
