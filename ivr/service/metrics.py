"""Prometheus metrics of the FastAGI server (names: docs/interfaces.md, "Metrics").

Every label value comes from a closed set checked here, so no caller number, target or
digit can ever reach a label: an unknown value is a programming error (ValueError), caught
by the tests rather than exported. Every labelled series exists from the start at 0, so
`increase()` sees the first call. Each `Metrics` has its own CollectorRegistry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)

from ivr.service.labels import (
    CONNECTION_REFUSALS,
    OUTCOMES,
    REJECTION_REASONS,
    STEPS,
    STORE_OPERATIONS,
    STRIKE_REASONS,
)

AGI_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _check(value: object, allowed: tuple[str, ...], what: str) -> str:
    text = str(value)
    if text not in allowed:
        raise ValueError(f"{what} {text!r} is not one of the closed set {allowed}")
    return text


class Metrics:
    """The server's metrics and the small calls the flow and the server make on them."""

    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.calls = Counter("ivr_calls", "Finished calls by outcome", ["outcome"], registry=reg)
        self.in_progress = Gauge("ivr_calls_in_progress", "Calls in the flow now", registry=reg)
        self.strikes = Counter(
            "ivr_strikes", "Wrong entries by step and reason", ["step", "reason"], registry=reg
        )
        self.rejections = Counter(
            "ivr_rejections",
            "Calls refused before answer and FastAGI connections refused, by reason",
            ["reason"],
            registry=reg,
        )
        self.agi_command = Histogram(
            "ivr_agi_command_seconds",
            "AGI command round trips (command sent to reply read)",
            buckets=AGI_BUCKETS,
            registry=reg,
        )
        self.store = Histogram(
            "ivr_store_seconds",
            "Credential store and directory work by operation (KDF apart from Redis)",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=reg,
        )
        for outcome in OUTCOMES:
            self.calls.labels(outcome=outcome)
        for step in STEPS:
            for reason in STRIKE_REASONS:
                self.strikes.labels(step=step, reason=reason)
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason=reason)
        for op in STORE_OPERATIONS:
            self.store.labels(operation=op)
        if process:  # not the platform or GC collectors: their labels carry digits
            ProcessCollector(registry=reg)

    def observe_call_end(self, outcome: object) -> None:
        self.calls.labels(outcome=_check(outcome, OUTCOMES, "outcome")).inc()

    @contextmanager
    def call_in_progress(self) -> Iterator[None]:
        """Around a call's flow: counted in ivr_calls_in_progress while it runs."""
        self.in_progress.inc()
        try:
            yield
        finally:
            self.in_progress.dec()

    def strike(self, step: object, reason: object) -> None:
        self.strikes.labels(
            step=_check(step, STEPS, "step"), reason=_check(reason, STRIKE_REASONS, "reason")
        ).inc()

    def rejection(self, reason: object) -> None:
        self.rejections.labels(reason=_check(reason, REJECTION_REASONS, "reason")).inc()

    def connection_refused(self, reason: str) -> None:
        """agi.server's on_refused: a FastAGI connection refused ("address", "secret", ...)."""
        self.rejection(CONNECTION_REFUSALS[reason])

    @contextmanager
    def time_agi_command(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.agi_command.observe(time.perf_counter() - start)

    @contextmanager
    def time_store(self, operation: str) -> Iterator[None]:
        """Failures are timed too; work abandoned (cancelled: a hang-up, a mismatch while the
        first entry's verifier was prepared) is not a duration of the operation."""
        hist = self.store.labels(operation=_check(operation, STORE_OPERATIONS, "operation"))
        start = time.perf_counter()
        try:
            yield
        except asyncio.CancelledError:
            raise
        except BaseException:
            hist.observe(time.perf_counter() - start)
            raise
        hist.observe(time.perf_counter() - start)
