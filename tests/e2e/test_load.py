"""`ivrctl load` as operators run it: 20 dial-ins at 5/s, every one set and verified.

Each call comes from its own subscriber of the reserved test range; the command imports and
removes them, so the directory holds none of them afterwards (without --keep).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import E2E_ENV
from tests.stackutil import Stack

pytestmark = pytest.mark.e2e


def test_load_20_calls_all_set_and_verified(stack):
    proc = stack.ivrctl("load", "--calls", "20", "--rate", "5", check=False, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^  set          20/20   verified 20/20$", out, re.M), out
    assert re.search(r"^  outcomes     set 20$", out, re.M), out
    assert "refusals     none" in out
    assert re.search(r"CPU per call asterisk [\d.]+ ms  agi [\d.]+ ms  redis [\d.]+ ms", out)
    assert "offered 20/20" in proc.stderr  # the live progress line
    # the test subscribers are gone again, with their store records
    listed = json.loads(stack.ivrctl("subscribers", "list", "--json").stdout)
    assert not [s for s in listed if s["number"].startswith("06900")]
    assert stack.ivrctl("tpw", "show", "0690000000", check=False).stdout.strip() == "none"


def test_load_keep_leaves_the_subscribers(stack):
    proc = stack.ivrctl("load", "--calls", "2", "--rate", "2", "--keep", check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kept test subscribers 0690000000-0690000001" in proc.stdout
    listed = json.loads(stack.ivrctl("subscribers", "list", "--json").stdout)
    assert {"0690000000", "0690000001"} <= {s["number"] for s in listed}


def test_load_bad_target_is_one_line(stack):
    proc = stack.ivrctl("load", "--calls", "1", "--rate", "1", "--target", "nohost", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ivrctl: --target must be HOST:PORT, not 'nohost'"


def test_over_the_rate_cap_callers_are_refused_before_answer_and_no_answered_call_fails(
    tmp_path,
):
    """16 calls at 8/s against IVR_MAX_CALLS_PER_S=2 with a bucket of 2: the calls over the
    rate hear why and get 503 before any answer (never charged); every answered call sets a
    password."""
    s = Stack.new(tmp_path / "state", **E2E_ENV, IVR_MAX_CALLS_PER_S="2", IVR_MAX_CALLS_BURST="2")
    try:
        s.up()
        proc = s.ivrctl("load", "--calls", "16", "--rate", "8", check=False, timeout=240)
    finally:
        s.down()
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # not every call set: some were refused
    m = re.search(r"^  admitted     (\d+) answered, 0 of them without a password set$", out, re.M)
    assert m, out
    answered = int(m.group(1))
    assert 4 <= answered <= 8, out  # a bucket of 2, then 2 a second over 2 s of arrivals
    assert re.search(rf"^  set          {answered}/16   verified {answered}/16$", out, re.M), out
    assert f"SIP 503: {16 - answered}" in out
    assert f"rejected_capacity {16 - answered}" in out
    assert "result: FAIL (every answered call set its password; the rest were refused)" in out
