"""Shared call set-up: a small directory of two contracts and a `dial` helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog

from ivr.flow.call import run_call
from ivr.flow.outcomes import CallInfo, CallResult
from ivr.flow.timing import Timing
from store.types import Subscriber
from tests.ivr.fakes import FakeChannel, FakeDirectory, FakeLimiter, FakeStore, ScriptItem

CONTRACT = "0664806000"  # contract number of contract A (west)
ADDITIONAL = "0664806001"  # an additional number of contract A
ADDITIONAL_2 = "0664806002"
INACTIVE_IN_A = "0664806009"
FOREIGN = "0312345678"  # contract number of contract B
INACTIVE_CALLER = "0699999999"  # contract C, inactive
PW = "48151623"  # a password whose digits appear nowhere else
PW2 = "90210777"
DID = "0664806430"
TIMING = Timing(first_key_s=0.01, inter_key_s=0.01, tries=3, max_call_s=5.0)

SUBSCRIBERS = (
    Subscriber(CONTRACT, CONTRACT, "west", True),
    Subscriber(ADDITIONAL, CONTRACT, "west", True),
    Subscriber(ADDITIONAL_2, CONTRACT, "west", True),
    Subscriber(INACTIVE_IN_A, CONTRACT, "west", False),
    Subscriber(FOREIGN, FOREIGN, "east", True),
    Subscriber(INACTIVE_CALLER, INACTIVE_CALLER, "west", False),
)


@dataclass
class Call:
    """Everything one scripted call touched, for assertions."""

    result: CallResult
    channel: FakeChannel
    store: FakeStore
    limiter: FakeLimiter
    log: list[tuple[Any, ...]] = field(default_factory=list)


Dial = Callable[..., Awaitable[Call]]


@pytest.fixture
def dial() -> Dial:
    async def _dial(
        *script: ScriptItem,
        caller: str | None = CONTRACT,
        store: FakeStore | None = None,
        limiter: FakeLimiter | None = None,
        directory: FakeDirectory | None = None,
        timing: Timing = TIMING,
        hangup_on_play: bool = False,
        capacity: Any = None,
    ) -> Call:
        log: list[tuple[Any, ...]] = []
        channel = FakeChannel(*script, log=log)
        channel.hangup_on_play = hangup_on_play
        store = store or FakeStore()
        store.log = log
        limiter = limiter or FakeLimiter()
        info = CallInfo(call_id="call-1", caller_raw=caller, did=DID)
        directory = directory or FakeDirectory(*SUBSCRIBERS)
        result = await run_call(info, channel, directory, store, limiter, timing, capacity=capacity)
        return Call(result, channel, store, limiter, log)

    return _dial


@pytest.fixture(autouse=True)
def _plain_structlog() -> Any:
    """Each test starts and ends with structlog's defaults (some tests configure it)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
