"""Whether the server can take one more call on time, and which calls it has already seen.

A call admitted beyond capacity would hear its prompts late and lose keys, or wait long for
its completion prompt (docs/benchmarks.md): refusing it before the answer costs the caller
nothing. Three signals: calls in the flow now (IVR_MAX_CALLS), new calls admitted per second
(IVR_MAX_CALLS_PER_S, a token bucket holding IVR_MAX_CALLS_BURST calls: each call's CPU, the
password derivation above all, comes within its first 20 seconds, so the sustained arrival
rate is what saturates a machine, while a short burst or an arrival clock's jitter around
the sized rate is absorbed and refuses nobody), and how late the event loop runs its timers
(a busy loop is exactly the wait between AGI commands during which Asterisk drops keys).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class Admission:
    """The flow's CapacityGuard: calls in progress, new calls per second, the loop's lag."""

    def __init__(
        self,
        max_calls: int,
        *,
        max_rate: float = 0.0,
        burst: int | None = None,
        max_lag_s: float = 0.25,
        tick_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_calls = max_calls  # 0: no cap on calls
        self.max_rate = max_rate  # new calls per second (the refill); 0: no cap
        self.burst = float(max(1, burst if burst is not None else round(max_rate)))
        self.max_lag_s = max_lag_s
        self.tick_s = tick_s
        self.in_progress = 0
        self.lag_s = 0.0  # how late the last tick ran
        self.recent_lags: deque[float] = deque(maxlen=100)  # the last 10 s of ticks (gauge)
        self._clock = clock
        self._tokens = self.burst
        self._refilled = clock()

    def admit(self) -> bool:
        """One more call now? Counts it against the rate when it says yes."""
        within = self.max_calls == 0 or self.in_progress <= self.max_calls
        if not within or self.lag_s > self.max_lag_s:
            return False
        if self.max_rate > 0:
            now = self._clock()
            elapsed, self._refilled = now - self._refilled, now
            self._tokens = min(self.burst, self._tokens + elapsed * self.max_rate)
            if self._tokens < 1:
                return False
            self._tokens -= 1
        return True

    async def watch_lag(self) -> None:
        """Measure, every tick, how late the loop woke us (runs until cancelled)."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.tick_s)
            self.lag_s = max(0.0, time.monotonic() - start - self.tick_s)
            self.recent_lags.append(self.lag_s)


class RecentCalls:
    """Unique ids of the calls the flow ran, so the hangup handler's report logs none twice."""

    def __init__(self, size: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, call_id: str) -> None:
        self._ids[call_id] = None
        self._ids.move_to_end(call_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._ids
