"""`ivr.service.serve` with a derivation of negligible cost, for `bench_fastagi --kdf light`.

Issue 11's turnaround target excludes the KDF; on a 2-core machine the real Argon2id (20-40
ms of CPU per set) competes with the event loop for the cores even when its own step is left
out of the figures. With Argon2id at 64 KiB and one pass, what remains is the FastAGI
server's own work. Never a deployment: a password set here is weakly derived.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.service import serve
from store import credentials
from store.kdf import Argon2idParams


@dataclass(frozen=True)
class LightArgon2id(Argon2idParams):
    memory_kib: int = 64
    time_cost: int = 1


if __name__ == "__main__":
    credentials.Argon2idParams = LightArgon2id  # type: ignore[misc] # the store's default
    raise SystemExit(serve.main())
