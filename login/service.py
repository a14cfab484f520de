"""What each endpoint does, in order: number, limits, rules, then the store.

The order is the point: a malformed number, a client or number over its limit and a new
password that breaks a rule are all answered before the first derivation, so the CPU an
attacker can make the service spend is bounded by the limits, not by the requests.
"""

from __future__ import annotations

from login import rules
from login.auth import Client
from login.metrics import Metrics
from login.models import (
    ApiError,
    AuditView,
    ChangeRequest,
    ChangeResponse,
    Cleared,
    LoginRequest,
    LoginResponse,
    NumberView,
    Reason,
)
from login.ratelimit import RateLimited, RateLimiter
from store.accounts import AccountStore, LoginResult
from store.directory import AsyncDirectory
from store.numbers import BadNumber, national
from store.types import StoreUnavailable


def normalised(raw: str) -> str:
    try:
        return national(raw)
    except BadNumber as exc:
        raise ApiError(400, "bad_number", str(exc)) from None


class LoginService:
    def __init__(
        self,
        store: AccountStore,
        limiter: RateLimiter,
        metrics: Metrics,
        directory: AsyncDirectory | None = None,
    ) -> None:
        self._store, self._limiter, self._metrics = store, limiter, metrics
        self._directory = directory

    async def _admit_number(self, number: str) -> None:
        try:
            await self._limiter.number(number)
        except RateLimited as exc:
            self._metrics.rate_limited.labels(exc.which).inc()
            raise

    async def login(self, client: Client, req: LoginRequest) -> LoginResponse:
        number = normalised(req.number)
        await self._admit_number(number)
        result = await self._store.login(number, req.password, actor=client.id)
        self._metrics.logins.labels(result.outcome.value).inc()
        return LoginResponse(
            outcome=result.outcome.value,
            number=number,
            credential=result.credential.value if result.credential else None,
            tries_left=_tries(result, req.show_tries_left),
        )

    async def _subscriber(self, number: str) -> tuple[str | None, list[str]]:
        """(region, phone numbers a new password must not contain) from the directory."""
        found = await self._directory.lookup(number) if self._directory else None
        if found is None:
            return None, [number]
        return found.region, sorted({number, found.contract_number})

    async def change(self, client: Client, req: ChangeRequest) -> ChangeResponse:
        number = normalised(req.number)
        region, numbers = await self._subscriber(number)
        broken = rules.check(
            req.new_password,
            req.new_password_again,
            current=req.current_password,
            numbers=numbers,
            region=region,
        )
        if broken:
            self._metrics.changes.labels("rejected").inc()
            return ChangeResponse(
                outcome="rejected",
                number=number,
                reasons=[Reason(code=r.value, message=rules.MESSAGES[r]) for r in broken],
            )
        await self._admit_number(number)
        done = await self._store.change(
            number, req.current_password, req.new_password, actor=client.id
        )
        self._metrics.changes.labels(done.outcome).inc()
        return ChangeResponse(
            outcome=done.outcome,
            number=number,
            tries_left=done.tries_left if req.show_tries_left else None,
            expires_at=done.expires_at.isoformat() if done.expires_at else None,
        )

    async def show(self, raw: str) -> NumberView:
        number = normalised(raw)
        tpw = await self._store.show(number)
        account = await self._store.show_account(number)
        return NumberView(
            number=number,
            temporary=tpw.to_json() if tpw else None,
            password=account.to_json() if account else None,
        )

    async def clear(self, client: Client, raw: str, credential: str) -> Cleared:
        number = normalised(raw)
        temporary = credential in ("all", "temporary") and await self._store.clear(
            number, operator=client.id
        )
        password = credential in ("all", "password") and await self._store.clear_account(
            number, operator=client.id
        )
        return Cleared(number=number, temporary=temporary, password=password)

    async def audit(self, raw: str, limit: int) -> AuditView:
        number = normalised(raw)
        entries = await self._store.audit(number, limit=limit)
        return AuditView(number=number, entries=[e.to_json() for e in entries])


def _tries(result: LoginResult, wanted: bool) -> int | None:
    return result.tries_left if wanted else None


__all__ = ["LoginService", "StoreUnavailable", "normalised"]
