"""The flow's directory and limiter ports, each call timed into ivr_store_seconds{operation}.

Adapters at the service's wiring, so the store library stays free of the service's metrics
(the credential store takes a `timer` hook instead: only it can time the KDF apart from
Redis). A failed operation is timed too: a slow failure is what operators look for.
"""

from __future__ import annotations

from ivr.flow.ports import CallLimiter, Directory
from ivr.service.metrics import Metrics
from store.types import Subscriber


class TimedDirectory:
    """ivr.flow.ports.Directory: every look-up is "directory_lookup"."""

    def __init__(self, directory: Directory, metrics: Metrics) -> None:
        self._directory, self._metrics = directory, metrics

    async def lookup(self, number: str) -> Subscriber | None:
        with self._metrics.time_store("directory_lookup"):
            return await self._directory.lookup(number)

    async def find_in_contract(self, contract_number: str, number: str) -> Subscriber | None:
        with self._metrics.time_store("directory_lookup"):
            return await self._directory.find_in_contract(contract_number, number)


class TimedLimiter:
    """ivr.flow.ports.CallLimiter: both scripts are "redis_limits"."""

    def __init__(self, limiter: CallLimiter, metrics: Metrics) -> None:
        self._limiter, self._metrics = limiter, metrics

    async def admit(self, caller: str) -> bool:
        with self._metrics.time_store("redis_limits"):
            return await self._limiter.admit(caller)

    async def record_failure(self, caller: str) -> None:
        with self._metrics.time_store("redis_limits"):
            await self._limiter.record_failure(caller)
