"""What the call flow needs from the outside world, as small interfaces.

The flow never sees an AGI line, a Redis key or an SQL row: production passes the FastAGI
channel adaptor, the Redis store and the SQL directory; unit tests pass scripted fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from store.types import Prepared, Subscriber, Unit


class CallerHangup(Exception):
    """The caller is gone (however the channel learned it). Ends the flow from any state."""


@dataclass(frozen=True)
class Sound:
    """A prompt file by catalog id, e.g. Sound("tpw/unit_menu")."""

    id: str


@dataclass(frozen=True)
class Digits:
    """A number read back digit by digit (SAY DIGITS with the channel's language)."""

    number: str


PromptItem = Sound | Digits


@dataclass(frozen=True)
class Keyed:
    """What the caller keyed for one entry.

    digits: the keys, terminator excluded, the key that interrupted a prompt included.
    terminated: '#' ended the entry.  timed_out: a timer ended it (no key at all when
    digits == "").  Neither flag: max_digits was reached.
    """

    digits: str
    terminated: bool = False
    timed_out: bool = False


class Channel(Protocol):
    """One caller's call, as the flow sees it. Every method raises CallerHangup when gone."""

    async def collect(
        self,
        prompts: Sequence[PromptItem],
        *,
        max_digits: int,
        first_key_s: float,
        inter_key_s: float,
    ) -> Keyed:
        """Play prompts with barge-in, then collect up to max_digits keys ('#' ends)."""
        ...

    async def play(self, prompts: Sequence[PromptItem]) -> None:
        """Play prompts to the end, no barge-in (final messages)."""
        ...

    async def answer(self) -> None:
        """Answer the call (200 OK: billing starts). Only an admitted caller is answered."""
        ...

    async def refuse(self, prompts: Sequence[PromptItem], *, sip_status: int) -> None:
        """Never answered: the prompts as early media (183), then the final SIP status."""
        ...

    async def flush_keys(self) -> None:
        """Discard keys already queued (stale keys before the next prompt)."""
        ...

    async def hangup(self) -> None:
        """End the call from our side (the service sends BYE)."""
        ...

    async def step(self, name: str) -> None:
        """The call entered step `name` (a call-log step): operators see it live. Never keys."""
        ...


class Directory(Protocol):
    """The subscriber look-ups a call needs."""

    async def lookup(self, number: str) -> Subscriber | None:
        """The directory entry of a number (active or not), or None."""
        ...

    async def find_in_contract(self, contract_number: str, number: str) -> Subscriber | None:
        """The active entry of number when it belongs to contract_number, else None."""
        ...


class CredentialWriter(Protocol):
    """The store operations the flow performs: derive, then write."""

    async def prepare(self, password: str) -> Prepared:
        """The verifier of an accepted first entry (slow: runs during the confirmation)."""
        ...

    async def set_prepared(
        self,
        number: str,
        prepared: Prepared,
        *,
        unit: Unit,
        contract_number: str,
        set_by: str,
        call_id: str,
    ) -> None:
        """Durably store; returns only once acknowledged. Raises StoreUnavailable."""
        ...


class CallLimiter(Protocol):
    """Per-caller limits: too many calls, too many calls ending in failed_strikes."""

    async def admit(self, caller: str) -> bool:
        """Count this call; False when the caller is over a limit. Raises StoreUnavailable."""
        ...

    async def record_failure(self, caller: str) -> None:
        """Count a call that ended in failed_strikes."""
        ...


class CapacityGuard(Protocol):
    """Whether the service can take one more call and still serve every caller on time."""

    def admit(self) -> bool:
        """False when a new call would be served late (too many calls, a lagging loop)."""
        ...
