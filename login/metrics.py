"""The API's Prometheus metrics, in a registry of its own: counts and times, never a number,
a password, a verifier or a token in a label."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from store.kdf import derivations_total


class _Derivations(Collector):
    """Every Argon2id derivation this process ran: the CPU a flood cost."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "ivr_api_kdf_derivations",
            "password derivations run by this process (dummy ones included)",
            value=derivations_total(),
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "ivr_api_requests", "requests by route and status", ["route", "status"], registry=r
        )
        self.seconds = Histogram(
            "ivr_api_request_seconds",
            "request time by route",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.logins = Counter("ivr_api_logins", "login outcomes", ["outcome"], registry=r)
        self.changes = Counter(
            "ivr_api_changes", "password change outcomes", ["outcome"], registry=r
        )
        self.rate_limited = Counter(
            "ivr_api_rate_limited", "requests refused with 429, by limit", ["limit"], registry=r
        )
        r.register(_Derivations())
