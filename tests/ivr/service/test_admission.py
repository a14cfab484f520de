"""The capacity guard: calls at once, new calls a second, the event loop's lag."""

from __future__ import annotations

import pytest

from ivr.config.settings import Settings
from ivr.service.admission import Admission


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_calls_at_once_cap_counts_the_call_being_decided() -> None:
    guard = Admission(2)
    guard.in_progress = 2  # this call and one more
    assert guard.admit()
    guard.in_progress = 3
    assert not guard.admit()
    assert Admission(0).admit()  # 0: no cap


def test_the_bucket_holds_the_burst_and_refills_at_the_rate() -> None:
    clock = Clock()
    guard = Admission(0, max_rate=5, burst=12, clock=clock)
    assert sum(guard.admit() for _ in range(20)) == 12  # a burst above the rate is absorbed
    clock.now += 1.0
    assert sum(guard.admit() for _ in range(20)) == 5  # then the rate, and no more
    clock.now += 60
    assert sum(guard.admit() for _ in range(40)) == 12  # never more than the burst


def test_arrivals_jittering_around_the_rate_are_never_refused() -> None:
    """SIPp's clock and Asterisk's scheduling bunch calls sent at exactly the rate: a call
    late by up to the burst's worth of time and its successors early is not an excess."""
    clock = Clock()
    guard = Admission(0, max_rate=25, burst=100, clock=clock)
    admitted = 0
    for second in range(20):  # 500 calls at exactly 25/s on average, bunched every 2 s
        if second % 2:
            for _ in range(50):
                admitted += guard.admit()
        clock.now += 1.0
    assert admitted == 500
    one_second = Admission(0, max_rate=25, burst=25, clock=Clock())
    assert sum(one_second.admit() for _ in range(50)) == 25  # the old one-second bucket


def test_rate_admits_a_second_of_calls_then_refills_with_time() -> None:
    clock = Clock()
    guard = Admission(0, max_rate=5, clock=clock)  # no burst given: one second's worth
    assert [guard.admit() for _ in range(7)] == [True] * 5 + [False] * 2
    clock.now += 0.2  # one more call's worth
    assert [guard.admit() for _ in range(2)] == [True, False]
    clock.now += 60  # the bucket holds one second, never more
    assert sum(guard.admit() for _ in range(20)) == 5


def test_a_refused_call_costs_no_rate() -> None:
    clock = Clock()
    guard = Admission(1, max_rate=2, clock=clock)
    guard.in_progress = 5  # over the calls cap: refused before the bucket is touched
    assert not guard.admit()
    guard.in_progress = 1
    assert [guard.admit(), guard.admit(), guard.admit()] == [True, True, False]


def test_lagging_loop_refuses() -> None:
    guard = Admission(0, max_lag_s=0.25)
    guard.lag_s = 0.3
    assert not guard.admit()
    guard.lag_s = 0.1
    assert guard.admit()


def test_rate_setting_defaults_allows_zero_and_refuses_nonsense() -> None:
    assert Settings.from_env({}).max_calls_per_s > 0
    assert Settings.from_env({"IVR_MAX_CALLS_PER_S": "0"}).max_calls_per_s == 0
    for bad in ("-1", "fast", "nan"):
        with pytest.raises(ValueError, match="IVR_MAX_CALLS_PER_S"):
            Settings.from_env({"IVR_MAX_CALLS_PER_S": bad})
