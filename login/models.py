"""The API's JSON bodies (pydantic: FastAPI validates them and documents them in OpenAPI).

Every answer about a password is a 200 with an `outcome`; errors (no token, wrong scope,
too many attempts, a malformed request, the store down) carry `{"error": {"code", "message"}}`
with a stable code, and never echo what was sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Number = Field(
    min_length=1,
    max_length=32,
    description="the login number: national form `0664806430` or `+81664806430`, no hyphens",
    examples=["0690099990"],
)
Secret = Field(min_length=1, max_length=64, description="never logged, never echoed")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Number
    password: str = Secret
    show_tries_left: bool = Field(False, description="with `wrong`: how many tries are left")


class LoginResponse(BaseModel):
    outcome: Literal["ok", "must_change", "wrong", "locked", "expired", "none"]
    number: str = Field(description="the number as the store keys it (national form)")
    credential: Literal["temporary", "password"] | None = Field(
        None, description="which password was checked (with ok, must_change, wrong, locked)"
    )
    tries_left: int | None = Field(None, description="with wrong, when show_tries_left")


class ChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Number
    current_password: str = Secret
    new_password: str = Secret
    new_password_again: str = Secret
    show_tries_left: bool = False


class Reason(BaseModel):
    code: Literal[
        "mismatch", "length", "charset", "digits_only", "letters_only",
        "same_as_current", "repeated", "sequence", "contains_number",
    ]  # fmt: skip
    message: str = Field(description="what the seed's screen says (Japanese)")


class ChangeResponse(BaseModel):
    outcome: Literal["changed", "rejected", "wrong", "locked", "expired", "none"]
    number: str
    reasons: list[Reason] = Field(
        default_factory=list, description="with rejected: every rule the new password breaks"
    )
    tries_left: int | None = None
    expires_at: str | None = Field(None, description="with changed: ISO 8601, 60 days on")


class NumberView(BaseModel):
    number: str
    temporary: dict[str, Any] | None = Field(description="the record, never a secret")
    password: dict[str, Any] | None = Field(description="the record, never a secret")


class Cleared(BaseModel):
    number: str
    temporary: bool = Field(description="a temporary password record was removed")
    password: bool = Field(description="a real password was removed")


class AuditView(BaseModel):
    number: str
    entries: list[dict[str, Any]]


class ErrorDetail(BaseModel):
    code: Literal[
        "unauthenticated", "forbidden", "rate_limited", "bad_number", "bad_request",
        "store_unavailable", "not_found",
    ]  # fmt: skip
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error answer: status, stable code, a message that names no input value."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
