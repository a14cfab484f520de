"""The temporary-password store in Redis, shared by the IVR (writer) and the web site.

Every change runs as one Lua script together with its audit entry (store/scripts.py);
the slow verifier is computed in a thread between two scripts, and the second script only
applies the result if the record is still the generation the first one handed out. A
verify that finds no live password derives a dummy verifier at the same cost, so how long
it takes does not tell whether a number has one.

`timer(operation)`, when given, is a context manager around each part of the work: "kdf"
(a derivation) apart from the Redis round trips ("redis_set", "redis_verify", ...), so a
service can time them without this library knowing its metrics.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from store import kdf as kdfs
from store import keys, scripts
from store.audit import AuditEntry, read_audit
from store.kdf import Argon2idParams, derive_async, matches, new_salt
from store.records import TpwRecord
from store.redisconn import confirm_replicas, run_script, text, unavailable_on_error
from store.types import (
    PASSWORD_LENGTH,
    Prepared,
    StoreError,
    Unit,
    VerifyOutcome,
)

MAX_FAILURES = 3
_PASSWORD = re.compile(f"[0-9]{{{PASSWORD_LENGTH}}}")
_RETRIES = 8


def _untimed(_operation: str) -> AbstractContextManager[object]:
    return nullcontext()


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
        kdf: Argon2idParams | None = None,
        audit_max: int = 1000,
        audit_ttl_s: float = 400 * 86400,
        replicas: int = 0,
        replica_timeout_ms: int = 1000,
        executor: Executor | None = None,
        timer: Callable[[str], AbstractContextManager[object]] | None = None,
    ) -> None:
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        if validity_s <= 0 or retain_s <= 0 or audit_ttl_s <= 0 or audit_max < 1:
            raise ValueError("validity, retention and audit limits must be positive")
        if replicas < 0 or replica_timeout_ms < 1:
            raise ValueError("replicas must not be negative and replica_timeout_ms positive")
        self._replicas, self._replica_timeout_ms = replicas, replica_timeout_ms
        kdf = Argon2idParams() if kdf is None else kdf
        if not isinstance(kdf, Argon2idParams):
            raise TypeError("new temporary passwords are always derived with Argon2id")
        self.kdf = kdf
        self._executor = executor  # where derivations run (store.kdf.derive_async)
        self._timer = timer or _untimed
        self._redis = redis
        self._pepper = pepper
        self._clock = clock
        self._validity_ms = int(validity_s * 1000)
        self._tail = {
            "audit_max": audit_max,
            "audit_ttl_ms": int(audit_ttl_s * 1000),
            "retain_ms": int(retain_s * 1000),
        }
        self._dummy_salt = new_salt()
        self._scripts: dict[scripts.Script, AsyncScript] = {
            source: redis.register_script(source)
            for source in (scripts.SET, scripts.BEGIN, scripts.FINISH, scripts.CONSUME)
            + (scripts.CLEAR, scripts.UNIT)
        }

    def _keys(self, number: str) -> dict[str, str]:
        """Every key of number's slot a credential script may take, by its KEYS name."""
        return {
            "record_key": keys.tpw(number),
            "verifier_key": keys.tpw_verifier(number),
            "audit_key": keys.audit(number),
        }

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _run(
        self,
        source: scripts.Script,
        number: str,
        now_ms: int | None = None,
        client: Redis | None = None,
        **args: object,
    ) -> Any:
        """A credential script on number's keys; the time and the limits are added here."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        named = self._keys(number)
        record_keys = source.key_list(**{name: named[name] for name in source.keys})
        argv = source.arg_list(now_ms=now_ms, number=number, **args, **self._tail)
        return await self._script(source, record_keys, argv, client)

    async def _script(
        self, source: scripts.Script, keys: list[str], argv: list[str], client: Redis | None
    ) -> Any:
        return await run_script(self._scripts[source], keys, argv, client)

    async def prepare(self, password: str) -> Prepared:
        """The salt and verifier of a new temporary password: the slow part of a set, which
        the IVR starts while the caller keys the confirmation (ValueError if not 8 digits)."""
        if not isinstance(password, str) or not _PASSWORD.fullmatch(password):
            raise ValueError(f"a temporary password must be exactly {PASSWORD_LENGTH} digits")
        salt = new_salt()
        with self._timer("kdf"):
            verifier = await derive_async(password, salt, self._pepper, self.kdf, self._executor)
        return Prepared(salt=salt, verifier=verifier, kdf_json=kdfs.to_json(self.kdf))

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

        `prepare` then `set_prepared`, with the numbers checked before the slow derivation.
        """
        keys.checked(number)
        keys.contract(contract_number)
        prepared = await self.prepare(password)
        await self.set_prepared(
            number, prepared, unit=unit, contract_number=contract_number, set_by=set_by,
            call_id=call_id,
        )  # fmt: skip

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
        """Write a prepared verifier as the number's temporary password; returns once
        acknowledged.

        The record is written first, then the contract's unit: a failure between the two
        raises StoreUnavailable, so the caller never hears "done" for a half-done change.
        With `replicas`, it returns only once that many replicas hold both writes (`WAIT` on
        the connection that wrote them); otherwise StoreUnavailable, though the primary may
        keep the record: unconfirmed, never acknowledged.
        """
        unit = Unit(unit)
        keys.checked(number)
        keys.contract(contract_number)
        if prepared.kdf_json != kdfs.to_json(self.kdf):
            raise ValueError("the verifier was prepared with other KDF parameters")
        with self._timer("redis_set"), unavailable_on_error("set_temporary"):
            async with self._redis.client() as conn:  # WAIT counts this connection's writes
                fields = {
                    "unit": unit.value, "set_by": set_by, "call_id": call_id,
                    "salt": prepared.salt.hex(), "verifier": prepared.verifier.hex(),
                }  # fmt: skip
                await self._write_set(conn, number, contract_number, fields)
                await self._confirm(conn, "set_temporary")

    async def _confirm(self, conn: Redis, what: str) -> None:
        await confirm_replicas(conn, self._replicas, self._replica_timeout_ms, what)

    async def _write_set(
        self, conn: Redis, number: str, contract_number: str, fields: dict[str, str]
    ) -> None:
        """The record's script, then the contract's unit, both on conn."""
        now = self._now_ms()
        await self._run(
            scripts.SET,
            number,
            now,
            conn,
            expires_ms=now + self._validity_ms,
            contract=contract_number,
            gen=secrets.token_hex(16),
            kdf=kdfs.to_json(self.kdf),
            **fields,
        )
        await self._script(
            scripts.UNIT,
            scripts.UNIT.key_list(contract_key=keys.contract(contract_number)),
            scripts.UNIT.arg_list(
                unit=fields["unit"], at_ms=now, number=number, call_id=fields["call_id"]
            ),
            conn,
        )

    async def verify(self, number: str, password: str, *, actor: str = "web") -> VerifyOutcome:
        """The web site's login check. ok resets the failure count; a wrong password counts.

        The MAX_FAILURES-th consecutive wrong password invalidates the temporary password and
        already answers `locked` (not `wrong`); so does every attempt after it, right or
        wrong, until a new one is set. `expired` after 24 h; `none` when there is none or it
        was consumed. Raises StoreUnavailable when Redis cannot answer, or (with `replicas`)
        when the replicas did not confirm the count or its reset: a failover keeps it exact.

        Every answer costs one derivation: without a live verifier a dummy one is derived
        with the current parameters, so timing does not tell a live password from none.
        """
        keys.checked(number)
        for _ in range(_RETRIES):
            with self._timer("redis_verify"), unavailable_on_error("verify"):
                begun = await self._run(scripts.BEGIN, number, actor=actor)
            kind = text(begun[0])
            if kind != "check":
                with self._timer("kdf"):
                    await derive_async(
                        password, self._dummy_salt, self._pepper, self.kdf, self._executor
                    )
                return VerifyOutcome(kind)
            gen, match = await self._compare(password, begun[1:5])
            finished = await self._finish(scripts.FINISH, number, actor, gen, match, MAX_FAILURES)
            outcome = text(finished[0])
            if outcome != "retry":
                return VerifyOutcome(outcome)
        raise StoreError("verify: the record kept changing; try again")

    async def _compare(self, password: str, handed_out: list[Any]) -> tuple[str, bool]:
        """(gen, whether password matches) from a BEGIN's gen, kdf, salt and verifier."""
        gen, kdf_json, salt_hex, verifier_hex = (text(x) for x in handed_out)
        if gen is None or kdf_json is None or salt_hex is None or verifier_hex is None:
            raise StoreError("verify: record without generation or verifier")
        with self._timer("kdf"):
            candidate = await derive_async(
                password, bytes.fromhex(salt_hex), self._pepper, kdfs.from_json(kdf_json),
                self._executor,
            )  # fmt: skip
        return gen, matches(candidate, bytes.fromhex(verifier_hex))

    async def _finish(
        self, source: scripts.Script, number: str, actor: str, gen: str, match: bool, limit: int
    ) -> Any:
        """The second half of a check: the comparison applied if gen is still the record's."""
        with self._timer("redis_verify"), unavailable_on_error("verify"):
            async with self._redis.client() as conn:  # the count's WAIT: this connection
                finished = await self._run(
                    source, number, None, conn, actor=actor, gen=gen,
                    match="1" if match else "0", max_failures=limit,
                )  # fmt: skip
                if text(finished[0]) != "retry":  # a failover must not forget a count
                    await self._confirm(conn, "verify")
        return finished

    async def consume(self, number: str, *, actor: str = "web") -> bool:
        """The web site set the real password: the temporary one stops working.

        True when a valid temporary password was consumed, False when there was none.
        """
        with self._timer("redis_consume"), unavailable_on_error("consume"):
            found = await self._run(scripts.CONSUME, number, actor=actor)
        return text(found) == "valid"

    async def clear(self, number: str, *, operator: str) -> bool:
        """An operator removes the record (whatever its state). True when there was one."""
        with self._timer("redis_clear"), unavailable_on_error("clear"):
            found = await self._run(scripts.CLEAR, number, operator=operator)
        return text(found) != "none"

    async def forget(self, number: str) -> int:
        """Remove every record of a number: its password, audit, unit and call limits.

        For a number that leaves the service (or a test number after a load run); unlike
        clear() it leaves no audit entry, since the audit stream goes too. Returns the count
        of keys removed. One DEL: every key of a number is in the number's hash slot.
        """
        with unavailable_on_error("forget"):
            return int(await self._redis.delete(*keys.of_number(number)))

    async def show(self, number: str) -> TpwRecord | None:
        """The record as the web site and operators may see it, or None."""
        with self._timer("redis_show"), unavailable_on_error("show"):
            raw = await self._redis.hgetall(keys.tpw(number))
        fields = {text(k): text(v) for k, v in raw.items()}
        if not fields or fields.get("kind") != "tpw":
            return None
        return TpwRecord.from_fields(fields, self._now_ms())

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
