"""The real password beside the temporary one: the web site's login and password change.

The real password lives in the number's slot next to the temporary one, as a verifier with
the same KDF and pepper (store/kdf.py), valid 60 days and invalid after 10 consecutive
wrong entries. A login checks the valid temporary password when there is one, else the
real one (store/account_scripts.py); a change stores the new real password and consumes
the temporary one in one script. Every answer costs one derivation, a dummy one when
there is nothing to check, as `CredentialStore.verify` does.

Numbers are the store's national form (`store.numbers.national` turns `+81…` into it);
which new passwords are acceptable is the login service's rule book (login/rules.py):
the store itself only refuses what is not 8-12 ASCII letters and digits.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from store import account_scripts, keys, scripts
from store import kdf as kdfs
from store.credentials import MAX_FAILURES, CredentialStore
from store.kdf import derive_async, new_salt
from store.records import ms_to_datetime
from store.redisconn import text, unavailable_on_error
from store.types import StoreError

PASSWORD_VALIDITY_S = 60 * 86400
PASSWORD_MAX_FAILURES = 10
_SHAPE = re.compile(r"[A-Za-z0-9]{8,12}")
_RETRIES = 8


class Credential(enum.StrEnum):
    """Which password a login checked."""

    TEMPORARY = "temporary"
    PASSWORD = "password"


class LoginOutcome(enum.StrEnum):
    OK = "ok"  # the real password, within its 60 days
    MUST_CHANGE = "must_change"  # the temporary password, or a real one past its 60 days
    WRONG = "wrong"
    LOCKED = "locked"  # invalidated by wrong entries: dial in for a new temporary password
    EXPIRED = "expired"  # the temporary password's 24 hours are over
    NONE = "none"  # no password to check (never set, consumed, cleared)


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    credential: Credential | None = None
    tries_left: int | None = None  # with `wrong`: entries before it is locked

    @property
    def logged_in(self) -> bool:
        return self.outcome in (LoginOutcome.OK, LoginOutcome.MUST_CHANGE)


@dataclass(frozen=True)
class ChangeResult:
    """`changed`, or the login outcome that refused the current password."""

    outcome: str
    tries_left: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class AccountRecord:
    """What may be shown about a real password: never the password or its verifier."""

    number: str
    set_by: str
    created_at: datetime
    expires_at: datetime
    failures: int
    state: str  # valid, aged (past expires_at: must change), locked

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "set_by": self.set_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "failures": self.failures,
            "state": self.state,
        }


class AccountStore(CredentialStore):
    """The credential store plus the real password: login, change, show/clear it."""

    def __init__(
        self,
        redis: Redis,
        pepper: bytes,
        *,
        password_validity_s: float = PASSWORD_VALIDITY_S,
        password_max_failures: int = PASSWORD_MAX_FAILURES,
        **options: Any,
    ) -> None:
        super().__init__(redis, pepper, **options)
        if password_validity_s <= 0 or password_max_failures < 1:
            raise ValueError("the real password's validity and failure limit must be positive")
        self._pw_validity_ms = int(password_validity_s * 1000)
        self._pw_max_failures = password_max_failures
        for source in (account_scripts.LOGIN_BEGIN, account_scripts.PW_FINISH) + (
            account_scripts.CHANGE,
            account_scripts.PW_CLEAR,
        ):
            self._scripts[source] = redis.register_script(source)

    def _keys(self, number: str) -> dict[str, str]:
        return {
            **super()._keys(number),
            "account_key": keys.account(number),
            "account_verifier_key": keys.account_verifier(number),
        }

    async def login(self, number: str, password: str, *, actor: str = "web") -> LoginResult:
        """The settings site's login: one derivation, the same atomic counting as `verify`.

        A valid temporary password answers `must_change` (3 wrong entries lock it); else the
        real password answers `ok`, or `must_change` past its 60 days (10 wrong entries lock
        it). Raises StoreUnavailable when Redis cannot answer.
        """
        result, _gen = await self._check(number, password, actor)
        return result

    async def _check(
        self, number: str, password: str, actor: str
    ) -> tuple[LoginResult, str | None]:
        """A login and, when it logged in, the generation of the password it matched."""
        keys.checked(number)
        derived = False  # one derivation an answer: a retry that finds nothing needs no dummy
        for _ in range(_RETRIES):
            with unavailable_on_error("login"):
                begun = await self._run(account_scripts.LOGIN_BEGIN, number, actor=actor)
            if text(begun[0]) != "check":
                if not derived:
                    await derive_async(
                        password, self._dummy_salt, self._pepper, self.kdf, self._executor
                    )
                return LoginResult(LoginOutcome(text(begun[0]))), None
            derived = True
            credential = Credential(text(begun[1]))
            gen, match = await self._compare(password, begun[2:6])
            temporary = credential is Credential.TEMPORARY
            limit = MAX_FAILURES if temporary else self._pw_max_failures
            source = scripts.FINISH if temporary else account_scripts.PW_FINISH
            finished = await self._finish(source, number, actor, gen, match, limit)
            outcome = text(finished[0])
            if outcome == "retry":
                continue
            if temporary and outcome == "ok":
                outcome = LoginOutcome.MUST_CHANGE
            left = limit - int(finished[1]) if outcome == "wrong" else None
            result = LoginResult(LoginOutcome(outcome), credential, left)
            return result, gen if result.logged_in else None
        raise StoreError("login: the record kept changing; try again")

    async def change(
        self, number: str, current: str, new: str, *, actor: str = "web"
    ) -> ChangeResult:
        """Set the real password after checking the current one as a login does.

        The current password counts like a login (a wrong one is a wrong entry). The new
        one is stored as a verifier, valid 60 days, and a valid temporary password is
        consumed in the same atomic step. ValueError (naming no password) when `new` is not
        8-12 ASCII letters and digits: the rules themselves are checked before this call.
        """
        if not isinstance(new, str) or not _SHAPE.fullmatch(new):
            raise ValueError("a real password must be 8-12 ASCII letters and digits")
        for _ in range(_RETRIES):
            checked, gen = await self._check(number, current, actor)
            if gen is None or checked.credential is None:
                return ChangeResult(checked.outcome.value, checked.tries_left)
            salt = new_salt()
            verifier = await derive_async(new, salt, self._pepper, self.kdf, self._executor)
            now = self._now_ms()
            expires = now + self._pw_validity_ms
            with unavailable_on_error("change"):
                done = await self._run(
                    account_scripts.CHANGE,
                    number,
                    now,
                    actor=actor,
                    credential=checked.credential.value,
                    gen=gen,
                    expires_ms=expires,
                    new_gen=secrets.token_hex(16),
                    salt=salt.hex(),
                    verifier=verifier.hex(),
                    kdf=kdfs.to_json(self.kdf),
                )
            if text(done) == "changed":
                return ChangeResult("changed", expires_at=ms_to_datetime(expires))
        raise StoreError("change: the record kept changing; try again")

    async def show_account(self, number: str) -> AccountRecord | None:
        """The real password's record as operators may see it, or None."""
        with unavailable_on_error("show_account"):
            raw = await self._redis.hgetall(keys.account(number))
        fields = {text(k): text(v) for k, v in raw.items()}
        if fields.get("kind") != "pw":
            return None
        expires = int(fields["expires"])
        state = fields["state"]
        if state == "valid" and self._now_ms() >= expires:
            state = "aged"
        return AccountRecord(
            number=fields["number"],
            set_by=fields["set_by"],
            created_at=ms_to_datetime(int(fields["created"])),
            expires_at=ms_to_datetime(expires),
            failures=int(fields["failures"]),
            state=state,
        )

    async def clear_account(self, number: str, *, operator: str) -> bool:
        """An operator removes the real password (audited). True when there was one."""
        with unavailable_on_error("clear_account"):
            found = await self._run(account_scripts.PW_CLEAR, number, operator=operator)
        return text(found) != "none"
