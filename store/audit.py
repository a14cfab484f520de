"""Reading the audit streams the credential scripts write (see store/scripts.py).

An entry holds what happened, when, to which number and by whom; the scripts never put a
password, salt or verifier in it, and this reader keeps to a fixed set of fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from store.redisconn import text

# Fields an entry may carry besides the named ones below; anything else is dropped.
DETAIL_FIELDS = (
    "unit", "contract", "replaced", "expires", "failures", "state", "reason", "credential",
)  # fmt: skip


@dataclass(frozen=True)
class AuditEntry:
    """One audited event: set, verify, expired, invalidated, consume, clear, login or change."""

    id: str
    at: datetime
    event: str
    number: str
    outcome: str
    actor: str | None = None  # caller number (set), operator (clear), client (verify...)
    call_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "event": self.event,
            "number": self.number,
            "outcome": self.outcome,
            "actor": self.actor,
            "call_id": self.call_id,
            **self.details,
        }


def _entry(entry_id: bytes | str, raw: dict[Any, Any]) -> AuditEntry:
    fields = {text(k): text(v) for k, v in raw.items()}
    return AuditEntry(
        id=text(entry_id) or "",
        at=datetime.fromtimestamp(int(fields.get("t") or 0) / 1000, tz=UTC),
        event=fields.get("event") or "",
        number=fields.get("number") or "",
        outcome=fields.get("outcome") or "",
        actor=fields.get("actor"),
        call_id=fields.get("call_id"),
        details={k: v for k in DETAIL_FIELDS if (v := fields.get(k)) is not None},
    )


async def read_audit(redis: Redis, key: str, *, limit: int | None = None) -> list[AuditEntry]:
    """Entries oldest first; with limit, only the newest `limit` of them."""
    if limit is None:
        rows = await redis.xrange(key)
    else:
        rows = list(reversed(await redis.xrevrange(key, count=limit)))
    return [_entry(entry_id, raw) for entry_id, raw in rows]
