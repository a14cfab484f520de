"""The password verifier: HMAC-SHA256 with the pepper, then Argon2id with a per-record salt.

The pepper lives outside Redis, so a copy of Redis alone cannot be brute-forced; Argon2id
(memory-hard, OWASP's recommendation) makes each guess slow. The parameters are stored
with each record, so they can be raised later without invalidating records already
written. Parameters read back from a record are bounded, so a planted record cannot make one
verify cost a gigabyte or seconds.

Where the slow work runs is the caller's choice: `derive_async` takes an executor (the IVR
hands in a low-priority pool of its own, `ivr.service.kdf_pool`; a web site may pass its
own or none, for the event loop's default pool).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

SALT_BYTES = 16
MAX_MEMORY_KIB = 256 * 1024
MAX_TIME_COST = 16
MAX_PARALLELISM = 8
_count_lock = threading.Lock()
_derivations = 0


@dataclass(frozen=True)
class Argon2idParams:
    """Argon2id cost; the default is OWASP's first choice: 19 MiB, 2 passes, 1 lane."""

    ALG: ClassVar[str] = "hmac-sha256+argon2id"

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1
    dklen: int = 32
    version: int = ARGON2_VERSION

    def __post_init__(self) -> None:
        if not 1 <= self.parallelism <= MAX_PARALLELISM:
            raise ValueError(f"argon2id parallelism must be 1..{MAX_PARALLELISM}")
        if not 8 * self.parallelism <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError(f"argon2id memory must be 8*parallelism..{MAX_MEMORY_KIB} KiB")
        if not 1 <= self.time_cost <= MAX_TIME_COST:
            raise ValueError(f"argon2id time cost must be 1..{MAX_TIME_COST}")
        if not 16 <= self.dklen <= 64 or self.version != ARGON2_VERSION:
            raise ValueError("argon2id dklen must be 16..64 and version 19")

    def derive(self, keyed: bytes, salt: bytes) -> bytes:
        return hash_secret_raw(
            keyed,
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=self.dklen,
            type=Type.ID,
            version=self.version,
        )


KdfParams = Argon2idParams
_BY_ALG: dict[str, type[Argon2idParams]] = {Argon2idParams.ALG: Argon2idParams}


def to_json(params: KdfParams) -> str:
    """The record's `kdf` field: the algorithm and every parameter."""
    return json.dumps({"alg": params.ALG, **asdict(params)}, sort_keys=True, separators=(",", ":"))


def from_json(raw: str) -> KdfParams:
    """Parameters from a record's `kdf` field; ValueError when unknown or out of bounds."""
    try:
        fields: dict[str, Any] = json.loads(raw)
        cls = _BY_ALG[fields.pop("alg")]
        return cls(**fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("unknown or out-of-bounds KDF parameters in the record") from None


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def derive(password: str, salt: bytes, pepper: bytes, params: KdfParams) -> bytes:
    """The verifier of password (blocking: call it through `derive_async`)."""
    global _derivations
    with _count_lock:
        _derivations += 1
    keyed = hmac.new(pepper, password.encode("utf-8"), hashlib.sha256).digest()
    return params.derive(keyed, salt)


def derivations_total() -> int:
    """Derivations this process has run (dummy ones too): what a flood of logins costs."""
    return _derivations


async def derive_async(
    password: str, salt: bytes, pepper: bytes, params: KdfParams, executor: Executor | None = None
) -> bytes:
    """`derive` in a worker thread of ``executor`` (None: the loop's default pool), so the
    event loop keeps serving other requests meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, derive, password, salt, pepper, params)


def matches(candidate: bytes, verifier: bytes) -> bool:
    """Constant-time comparison, so timing tells nothing about how close a guess was."""
    return hmac.compare_digest(candidate, verifier)
