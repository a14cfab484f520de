"""Whether the server can take one more call on time, and which calls it has already seen.

A call admitted beyond capacity would hear its prompts late and lose keys (issue 11's
measurements): refusing it before the answer costs the caller nothing. Two signals: calls in
the flow now (IVR_MAX_CALLS) and how late the event loop runs its timers (a busy loop is
exactly the wait between AGI commands during which Asterisk drops keys).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict


class Admission:
    """The flow's CapacityGuard: calls in progress and the event loop's lag."""

    def __init__(self, max_calls: int, *, max_lag_s: float = 0.25, tick_s: float = 0.1) -> None:
        self.max_calls = max_calls  # 0: no cap on calls
        self.max_lag_s = max_lag_s
        self.tick_s = tick_s
        self.in_progress = 0
        self.lag_s = 0.0  # how late the last tick ran

    def admit(self) -> bool:
        within = self.max_calls == 0 or self.in_progress <= self.max_calls
        return within and self.lag_s <= self.max_lag_s

    async def watch_lag(self) -> None:
        """Measure, every tick, how late the loop woke us (runs until cancelled)."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.tick_s)
            self.lag_s = max(0.0, time.monotonic() - start - self.tick_s)


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
