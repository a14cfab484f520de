"""The IVR's password derivations: a pool of their own, one thread a core, at nice +10.

A deployment policy of the media host, not of the store library: on a saturated machine
Asterisk's media and the event loop (a caller's keys) come first, and only the derivation
waits (the completion prompt comes later; no key is lost). The store takes it as its executor.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

KDF_NICE = 10


def _lower_priority() -> None:
    """This worker thread only (Linux nice is per thread); best effort elsewhere."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + KDF_NICE)
        )


def low_priority_pool(workers: int | None = None) -> ThreadPoolExecutor:
    """One thread a core by default; each lowers its own priority when it starts."""
    return ThreadPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        thread_name_prefix="kdf",
        initializer=_lower_priority,
    )
