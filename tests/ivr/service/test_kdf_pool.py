"""The service hands the store a pool of its own for derivations, below the loop's priority."""

from __future__ import annotations

import os
import threading

from ivr.service import kdf_pool
from store import kdf
from store.kdf import new_salt
from tests.store.conftest import FAST_KDF, PEPPER, PW


async def test_derivations_run_in_their_own_lower_priority_threads(monkeypatch) -> None:
    """Not the default pool (directory look-ups) and below the event loop's priority."""
    seen: list[tuple[str, int]] = []

    def spy(*args):
        seen.append(
            (
                threading.current_thread().name,
                os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
            )
        )
        return b"v"

    monkeypatch.setattr(kdf, "derive", spy)
    pool = kdf_pool.low_priority_pool(1)
    try:
        assert await kdf.derive_async(PW, new_salt(), PEPPER, FAST_KDF, pool) == b"v"
    finally:
        pool.shutdown()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    (name, nice) = seen[0]
    assert name.startswith("kdf")
    assert nice == min(19, own + kdf_pool.KDF_NICE)
