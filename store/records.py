"""What may be shown about a temporary password: the record as operators and the site see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store.types import TpwState, Unit


@dataclass(frozen=True)
class TpwRecord:
    """What may be shown about a temporary password: never the password or its verifier."""

    number: str
    unit: Unit
    contract_number: str
    set_by: str
    call_id: str
    created_at: datetime
    expires_at: datetime
    failures: int
    state: TpwState

    @classmethod
    def from_fields(cls, fields: dict[str, str | None], now_ms: int) -> TpwRecord | None:
        """The record's hash as read (decoded), or None when it is gone at ``now_ms``."""
        if not fields or fields.get("kind") != "tpw" or now_ms >= int(fields["purge_at"] or 0):
            return None
        state = TpwState(fields["state"])
        expires = int(fields["expires"] or 0)
        if state is TpwState.VALID and now_ms >= expires:
            state = TpwState.EXPIRED  # until a script writes it, expiry is read off the times
        return cls(
            number=str(fields["number"]),
            unit=Unit(fields["unit"]),
            contract_number=str(fields["contract"]),
            set_by=str(fields["set_by"]),
            call_id=str(fields["call_id"]),
            created_at=ms_to_datetime(int(fields["created"] or 0)),
            expires_at=ms_to_datetime(expires),
            failures=int(fields["failures"] or 0),
            state=state,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "unit": self.unit.value,
            "contract_number": self.contract_number,
            "set_by": self.set_by,
            "call_id": self.call_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "failures": self.failures,
            "state": self.state.value,
        }


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
