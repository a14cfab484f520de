"""Per-caller call limits in Redis: a sliding window of calls and of failed calls."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis.asyncio import Redis

from store import keys, scripts
from store.redisconn import run_script, unavailable_on_error
from store.types import Limits


class CallLimiter:
    """The flow's CallLimiter port: one atomic script per check, keys in the caller's slot.

    admit() counts the call (refused ones too) and refuses it when, within the window, the
    caller made more than calls_per_hour calls or had failed_per_hour failed calls.
    A limit of 0 is off.
    """

    def __init__(
        self, redis: Redis, limits: Limits, clock: Callable[[], float] = time.time
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._admit = redis.register_script(scripts.ADMIT)
        self._failure = redis.register_script(scripts.FAILURE)

    def _args(self) -> tuple[str, str]:
        return str(int(self._clock() * 1000)), str(int(self._limits.window_s * 1000))

    @staticmethod
    def _member(now: str) -> str:
        """Unique per event, so two calls in the same millisecond both count."""
        return f"{now}-{secrets.token_hex(6)}"

    async def admit(self, caller: str) -> bool:
        """Count this call; False when the caller is over a limit. Raises StoreUnavailable."""
        now, window = self._args()
        lim = self._limits
        with unavailable_on_error("admit"):
            admitted = await run_script(  # sent again while a failover is under way
                self._admit,
                scripts.ADMIT.key_list(
                    calls_key=keys.limit_calls(caller), failures_key=keys.limit_failures(caller)
                ),
                scripts.ADMIT.arg_list(
                    now_ms=now,
                    window_ms=window,
                    calls_max=lim.calls_per_hour,
                    failures_max=lim.failed_per_hour,
                    member=self._member(now),
                ),
                None,
            )
        return int(admitted) == 1

    async def record_failure(self, caller: str) -> None:
        """Count a call that ended in failed_strikes (nothing to keep when that limit is off)."""
        if self._limits.failed_per_hour == 0:
            return
        now, window = self._args()
        with unavailable_on_error("record_failure"):
            await run_script(
                self._failure,
                scripts.FAILURE.key_list(failures_key=keys.limit_failures(caller)),
                scripts.FAILURE.arg_list(
                    now_ms=now,
                    window_ms=window,
                    failures_max=self._limits.failed_per_hour,
                    member=self._member(now),
                ),
                None,
            )
