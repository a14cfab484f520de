"""The temporary-password store in Redis, shared by the IVR (writer) and the web site.

Every change runs as one Lua script together with its audit entry (store/scripts.py);
the slow verifier is computed in a thread between two scripts, and the second script only
applies the result if the record is still the generation the first one handed out.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from store import keys, scripts
from store.audit import AuditEntry, read_audit
from store.kdf import KdfParams, derive_async, matches, new_salt
from store.redisconn import text, unavailable_on_error
from store.types import PASSWORD_LENGTH, StoreError, TpwState, Unit, VerifyOutcome

MAX_FAILURES = 3
_PASSWORD = re.compile(f"[0-9]{{{PASSWORD_LENGTH}}}")
_RETRIES = 8


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


class CredentialStore:
    """set / verify / consume / show / clear of one temporary password per login number."""

    def __init__(
        self,
        redis: Redis,
        pepper: bytes,
        *,
        clock: Callable[[], float] = time.time,
        validity_s: float = 86400,
        retain_s: float = 7 * 86400,
        kdf: KdfParams | None = None,
        audit_max: int = 1000,
        audit_ttl_s: float = 400 * 86400,
    ) -> None:
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        if validity_s <= 0 or retain_s <= 0 or audit_ttl_s <= 0 or audit_max < 1:
            raise ValueError("validity, retention and audit limits must be positive")
        self._redis = redis
        self._pepper = pepper
        self._clock = clock
        self._validity_ms = int(validity_s * 1000)
        self._tail = [str(audit_max), str(int(audit_ttl_s * 1000)), str(int(retain_s * 1000))]
        self.kdf = kdf or KdfParams()
        self._set = redis.register_script(scripts.SET)
        self._begin = redis.register_script(scripts.BEGIN)
        self._finish = redis.register_script(scripts.FINISH)
        self._consume = redis.register_script(scripts.CONSUME)
        self._clear = redis.register_script(scripts.CLEAR)
        self._unit = redis.register_script(scripts.UNIT)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @staticmethod
    def _keys(number: str) -> list[str]:
        return [keys.tpw(number), keys.tpw_verifier(number), keys.audit(number)]

    async def set_temporary(
        self,
        number: str,
        password: str,
        *,
        unit: Unit,
        contract_number: str,
        set_by: str,
        call_id: str,
    ) -> None:
        """Store (replacing any previous one); returns once Redis acknowledged the write.

        The record is written first, then the contract's unit: a failure between the two
        raises StoreUnavailable, so the caller never hears "done" for a half-done change.
        """
        if not isinstance(password, str) or not _PASSWORD.fullmatch(password):
            raise ValueError(f"a temporary password must be exactly {PASSWORD_LENGTH} digits")
        unit = Unit(unit)
        record_keys = self._keys(number)
        keys.checked(contract_number)
        salt = new_salt()
        verifier = await derive_async(password, salt, self._pepper, self.kdf)
        now = self._now_ms()
        args = [
            str(now),
            str(now + self._validity_ms),
            number,
            contract_number,
            unit.value,
            set_by,
            call_id,
            secrets.token_hex(16),
            salt.hex(),
            verifier.hex(),
            self.kdf.to_json(),
            *self._tail,
        ]
        with unavailable_on_error("set_temporary"):
            await self._set(keys=record_keys, args=args)
            await self._unit(
                keys=[keys.contract(contract_number)],
                args=[unit.value, str(now), number, call_id],
            )

    async def verify(self, number: str, password: str, *, actor: str = "web") -> VerifyOutcome:
        """The web site's login check. ok resets the failure count; a wrong password counts.

        The MAX_FAILURES-th consecutive wrong password invalidates the temporary password and
        already answers `locked` (not `wrong`); so does every attempt after it, right or
        wrong, until a new one is set. `expired` after 24 h; `none` when there is none or it
        was consumed. Raises StoreUnavailable when Redis cannot answer.
        """
        record_keys = self._keys(number)
        for _ in range(_RETRIES):
            with unavailable_on_error("verify"):
                begun = await self._begin(
                    keys=record_keys, args=[str(self._now_ms()), number, actor, *self._tail]
                )
            kind = text(begun[0])
            if kind != "check":
                return VerifyOutcome(kind)
            gen, kdf_json, salt_hex, verifier_hex = (text(x) for x in begun[1:5])
            if gen is None or kdf_json is None or salt_hex is None or verifier_hex is None:
                raise StoreError("verify: record without generation or verifier")
            candidate = await derive_async(
                password, bytes.fromhex(salt_hex), self._pepper, KdfParams.from_json(kdf_json)
            )
            match = matches(candidate, bytes.fromhex(verifier_hex))
            with unavailable_on_error("verify"):
                finished = await self._finish(
                    keys=record_keys,
                    args=[
                        str(self._now_ms()),
                        number,
                        actor,
                        gen,
                        "1" if match else "0",
                        str(MAX_FAILURES),
                        *self._tail,
                    ],
                )
            outcome = text(finished[0])
            if outcome != "retry":
                return VerifyOutcome(outcome)
        raise StoreError("verify: the record kept changing; try again")

    async def consume(self, number: str, *, actor: str = "web") -> bool:
        """The web site set the real password: the temporary one stops working.

        True when a valid temporary password was consumed, False when there was none.
        """
        with unavailable_on_error("consume"):
            found = await self._consume(
                keys=self._keys(number), args=[str(self._now_ms()), number, actor, *self._tail]
            )
        return text(found) == "valid"

    async def clear(self, number: str, *, operator: str) -> bool:
        """An operator removes the record (whatever its state). True when there was one."""
        with unavailable_on_error("clear"):
            found = await self._clear(
                keys=self._keys(number),
                args=[str(self._now_ms()), number, operator, *self._tail],
            )
        return text(found) != "none"

    async def show(self, number: str) -> TpwRecord | None:
        """The record as the web site and operators may see it, or None."""
        with unavailable_on_error("show"):
            raw = await self._redis.hgetall(keys.tpw(number))
        fields = {text(k): text(v) for k, v in raw.items()}
        if not fields or fields.get("kind") != "tpw":
            return None
        now = self._now_ms()
        if now >= int(fields["purge_at"]):
            return None
        state = TpwState(fields["state"])
        expires = int(fields["expires"])
        if state is TpwState.VALID and now >= expires:
            state = TpwState.EXPIRED
        return TpwRecord(
            number=fields["number"],
            unit=Unit(fields["unit"]),
            contract_number=fields["contract"],
            set_by=fields["set_by"],
            call_id=fields["call_id"],
            created_at=ms_to_datetime(int(fields["created"])),
            expires_at=ms_to_datetime(expires),
            failures=int(fields["failures"]),
            state=state,
        )

    async def contract_unit(self, contract_number: str) -> Unit | None:
        """The contract's authentication unit: the one chosen at its latest set."""
        with unavailable_on_error("contract_unit"):
            unit = await self._redis.hget(keys.contract(contract_number), "unit")
        value = text(unit)
        return None if value is None else Unit(value)

    async def audit(self, number: str, *, limit: int | None = None) -> list[AuditEntry]:
        """The number's audit trail, oldest first (newest `limit` entries when given)."""
        with unavailable_on_error("audit"):
            return await read_audit(self._redis, keys.audit(number), limit=limit)
