"""A real stack (Asterisk + FastAGI + private Redis + SQLite) for the end-to-end calls."""

from __future__ import annotations

import pytest

from tests.stackutil import Stack

# Short timers keep no-input calls brief; limits low enough to test, callers unique per call.
E2E_ENV = {
    "IVR_FIRST_KEY_S": "4",
    "IVR_INTER_KEY_S": "2",
    "IVR_MAX_CALL_S": "150",
    "IVR_LIMIT_CALLS_PER_HOUR": "3",
    "IVR_LIMIT_FAILED_PER_HOUR": "2",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack.new(tmp_path_factory.mktemp("stack"), **E2E_ENV)
    try:
        s.up()
        yield s
    finally:
        s.down()
