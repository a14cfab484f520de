"""The pepper: a secret kept in a file outside Redis, shared with the web site's checks."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from store.types import StoreError

PEPPER_BYTES = 32
MIN_BYTES = 16


class PepperMissing(StoreError):
    """The pepper file is absent or unusable; the message says which file and what to do."""


def load(path: Path) -> bytes:
    """The pepper bytes (the whole file); a clear error instead of a silent new pepper."""
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise PepperMissing(
            f"pepper file {path} does not exist: run `ivrctl stack up` once, or point "
            "IVR_PEPPER_FILE at the file the web site uses"
        ) from None
    except OSError as exc:
        raise PepperMissing(f"pepper file {path} cannot be read: {exc.strerror}") from None
    if info.st_mode & stat.S_IROTH:
        raise PepperMissing(f"pepper file {path} is world-readable: chmod 600 it")
    if len(data) < MIN_BYTES:
        raise PepperMissing(f"pepper file {path} is shorter than {MIN_BYTES} bytes")
    return data


def load_or_create(path: Path) -> bytes:
    """Load the pepper, creating it (mode 0600, random bytes) when missing.

    Written to a temporary file and linked into place, so two processes starting at once
    agree on one pepper and nobody ever reads a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_bytes(PEPPER_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return load(path)
