"""Types shared by the credential store, the subscriber directory and the call flow."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PASSWORD_LENGTH = 8  # digits of a temporary password: the flow's entries and the store agree


class Unit(enum.StrEnum):
    """Authentication unit chosen at the menu (key 1, 2, 3)."""

    LINE = "line"
    NUMBER = "number"
    ADMIN_USER = "admin_user"


class VerifyOutcome(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    EXPIRED = "expired"
    NONE = "none"


class TpwState(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    LOCKED = "locked"
    CONSUMED = "consumed"


class StoreError(Exception):
    """Base of store failures (never 'wrong password': that is an outcome)."""


class StoreUnavailable(StoreError):
    """The store could not be reached or did not acknowledge a write durably."""


@dataclass(frozen=True)
class Subscriber:
    """One directory number and the contract it belongs to."""

    number: str
    contract_number: str
    region: str | None
    active: bool

    @property
    def is_contract(self) -> bool:
        return self.number == self.contract_number


@dataclass(frozen=True)
class Limits:
    """Per-caller limits checked at the caller check (0 disables a limit)."""

    calls_per_hour: int = 10  # IVR_LIMIT_CALLS_PER_HOUR
    failed_per_hour: int = 5  # calls ending in failed_strikes (IVR_LIMIT_FAILED_PER_HOUR)
    window_s: int = 3600  # IVR_LIMIT_WINDOW_S


@dataclass(frozen=True)
class Prepared:
    """A password's salt and verifier, derived ahead of the write (during the confirmation).

    No password in it; the verifier is never shown (repr), logged or sent anywhere but Redis.
    """

    salt: bytes = field(repr=False)
    verifier: bytes = field(repr=False)
    kdf_json: str
