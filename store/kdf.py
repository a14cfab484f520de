"""The password verifier: HMAC-SHA256 with the pepper, then scrypt with a per-record salt.

The pepper lives outside Redis, so a copy of Redis alone cannot be brute-forced; scrypt
makes each guess slow; the parameters are stored with each record so they can be raised
later without invalidating records already written.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

SALT_BYTES = 16


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost: n=2**14, r=8 needs 16 MiB and tens of milliseconds per check."""

    alg: str = "hmac-sha256+scrypt"
    n: int = 2**14
    r: int = 8
    p: int = 1
    dklen: int = 32

    def __post_init__(self) -> None:
        if self.alg != "hmac-sha256+scrypt":
            raise ValueError(f"unknown KDF {self.alg!r}")
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of two")
        if self.r < 1 or self.p < 1 or not 16 <= self.dklen <= 64:
            raise ValueError("scrypt r, p must be positive and dklen 16..64")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> KdfParams:
        return cls(**json.loads(raw))


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def derive(password: str, salt: bytes, pepper: bytes, params: KdfParams) -> bytes:
    """The verifier of password (blocking: call it through `derive_async`)."""
    keyed = hmac.new(pepper, password.encode("utf-8"), hashlib.sha256).digest()
    maxmem = 128 * params.r * (params.n + params.p + 2) + 1024 * 1024
    return hashlib.scrypt(
        keyed, salt=salt, n=params.n, r=params.r, p=params.p, dklen=params.dklen, maxmem=maxmem
    )


async def derive_async(password: str, salt: bytes, pepper: bytes, params: KdfParams) -> bytes:
    """`derive` in a worker thread: the event loop keeps serving other calls meanwhile."""
    return await asyncio.to_thread(derive, password, salt, pepper, params)


def matches(candidate: bytes, verifier: bytes) -> bool:
    """Constant-time comparison, so timing tells nothing about how close a guess was."""
    return hmac.compare_digest(candidate, verifier)
