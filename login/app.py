"""The ASGI app: FastAPI routes over LoginService, bearer tokens, JSON errors, metrics, page.

`create_app(settings)` connects to Redis, the pepper and the directory at start-up
(lifespan); `create_app()` without settings builds the routes alone (the OpenAPI document).
"""

import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from login.auth import Client, Tokens
from login.metrics import Metrics
from login.models import (
    ApiError,
    AuditView,
    ChangeRequest,
    ChangeResponse,
    Cleared,
    ErrorBody,
    LoginRequest,
    LoginResponse,
    NumberView,
)
from login.ratelimit import RateLimited, RateLimiter
from login.service import LoginService
from login.settings import ApiSettings
from store.types import StoreError

PAGE_DIR = Path(__file__).with_name("page")
PAGE_CLIENT = Client("page", frozenset({"site"}))  # the reference page speaks as a site
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "bad_number: not a number in the national or +81 form"),
        (401, "unauthenticated: no or unknown bearer token (nothing was counted)"),
        (403, "forbidden: the client lacks this scope"),
        (422, "bad_request: the body does not match the schema (no value echoed)"),
        (429, "rate_limited: over the client's or the number's limit; see Retry-After"),
        (503, "store_unavailable: Redis or the directory cannot answer"),
    )
}
DESCRIPTION = (
    "The settings site's login over the temporary-password store: log in with the number"
    " and a password, change the password under the site's rules, and the operator's view."
    " See docs/api.md."
)


class _State:
    service: LoginService
    tokens: Tokens
    limiter: RateLimiter
    ping: Callable[[], Any]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def _json_log(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def create_app(
    settings: ApiSettings | None = None, *, log: Callable[[dict[str, Any]], None] = _json_log
) -> FastAPI:
    state = _State()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings is None:
            yield
            return
        from login.wiring import connect_all  # noqa: PLC0415 (routes alone need none of it)

        async with connect_all(settings, metrics) as (service, tokens, limiter, ping):
            state.service, state.tokens, state.limiter, state.ping = service, tokens, limiter, ping
            yield

    app = FastAPI(title="Login service", version="1", description=DESCRIPTION, lifespan=lifespan)
    bearer = HTTPBearer(auto_error=False, description="a client's token (IVR_API_TOKENS_FILE)")

    def scoped(scope: str) -> Callable[..., Any]:
        async def authenticate(
            request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
        ) -> Client:
            client = state.tokens.authenticate(f"Bearer {creds.credentials}" if creds else None)
            if client is None:
                raise ApiError(401, "unauthenticated", "a valid bearer token is required",
                               {"WWW-Authenticate": "Bearer"})  # fmt: skip
            request.state.client = client.id
            if scope not in client.scopes:
                raise ApiError(403, "forbidden", f"this client has no {scope} scope")
            await _client_limit(client)
            return client

        return authenticate

    async def _client_limit(client: Client) -> None:
        try:
            await state.limiter.client(client.id)
        except RateLimited as exc:
            metrics.rate_limited.labels(exc.which).inc()
            raise

    site, operator = Depends(scoped("site")), Depends(scoped("operator"))

    @app.post("/v1/login", response_model=LoginResponse, responses=ERRORS, tags=["site"])
    async def login(body: LoginRequest, client: Client = site) -> LoginResponse:
        """Log in with the number and a password: ok, must_change, wrong, locked, expired, none."""
        return await state.service.login(client, body)

    @app.post("/v1/password", response_model=ChangeResponse, responses=ERRORS, tags=["site"])
    async def change(body: ChangeRequest, client: Client = site) -> ChangeResponse:
        """Change the password (current, new twice): changed, rejected (with every reason),
        or the login outcome that refused the current password."""
        return await state.service.change(client, body)

    @app.get("/v1/operator/numbers/{number}", response_model=NumberView, responses=ERRORS,
             tags=["operator"])  # fmt: skip
    async def show(number: str, client: Client = operator) -> NumberView:
        """Both records of a number, without any secret."""
        return await state.service.show(number)

    @app.delete("/v1/operator/numbers/{number}", response_model=Cleared, responses=ERRORS,
                tags=["operator"])  # fmt: skip
    async def clear(
        number: str,
        client: Client = operator,
        credential: Literal["all", "temporary", "password"] = "all",
    ) -> Cleared:
        """Remove the temporary password, the real one, or both (audited with the client)."""
        return await state.service.clear(client, number, credential)

    @app.get("/v1/operator/numbers/{number}/audit", response_model=AuditView, responses=ERRORS,
             tags=["operator"])  # fmt: skip
    async def audit(
        number: str, client: Client = operator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> AuditView:
        """The number's audit trail, oldest first (the newest `limit` entries)."""
        return await state.service.audit(number, limit)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        try:
            await state.ping()
        except Exception:  # noqa: BLE001 (any failure is "not ready")
            return _error(503, "store_unavailable", "Redis does not answer")
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if settings is None or settings.page:
        _page(app, state, _client_limit)
    _handlers(app)
    _request_log(app, metrics, log)
    return app


def _page(app: FastAPI, state: _State, client_limit: Callable[[Client], Any]) -> None:
    """The reference page and the two calls its script makes, as client `page`."""

    @app.post("/page/api/login", include_in_schema=False)
    async def page_login(body: LoginRequest, request: Request) -> LoginResponse:
        request.state.client = PAGE_CLIENT.id
        await client_limit(PAGE_CLIENT)
        return await state.service.login(PAGE_CLIENT, body)

    @app.post("/page/api/password", include_in_schema=False)
    async def page_change(body: ChangeRequest, request: Request) -> ChangeResponse:
        request.state.client = PAGE_CLIENT.id
        await client_limit(PAGE_CLIENT)
        return await state.service.change(PAGE_CLIENT, body)

    app.mount("/page", StaticFiles(directory=PAGE_DIR, html=True), name="page")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RateLimited)
    async def limited(_r: Request, exc: RateLimited) -> JSONResponse:
        return _error(429, "rate_limited", str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(StoreError)
    async def store_down(_r: Request, exc: StoreError) -> JSONResponse:
        return _error(503, "store_unavailable", "the credential store cannot answer; retry")

    @app.exception_handler(SQLAlchemyError)
    async def directory_down(_r: Request, exc: SQLAlchemyError) -> JSONResponse:
        return _error(503, "store_unavailable", "the subscriber directory cannot answer; retry")

    @app.exception_handler(RequestValidationError)
    async def invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        # field and problem only: pydantic's default body would echo the input (a password)
        problems = "; ".join(
            ".".join(str(p) for p in err.get("loc", ())) + ": " + str(err.get("msg", ""))
            for err in exc.errors()
        )
        return _error(422, "bad_request", problems or "malformed request")

    @app.exception_handler(HTTPException)
    async def http_error(_r: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "bad_request"
        return _error(exc.status_code, code, str(exc.detail))


def _request_log(app: FastAPI, metrics: Metrics, log: Callable[[dict[str, Any]], None]) -> None:
    """One line and two metrics per request: route template, status, client, time; never a
    body, a header or a query string."""

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[..., Any]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - start
        route = getattr(request.scope.get("route"), "path", None) or (
            "/page/*" if request.url.path.startswith("/page/") else "unmatched"
        )
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.seconds.labels(route).observe(elapsed)
        client = getattr(request.state, "client", None)
        log({"event": "api.request", "t": round(time.time(), 3), "method": request.method,
             "route": route, "status": response.status_code, "client": client,
             "ms": round(elapsed * 1000, 1)})  # fmt: skip
        return response
