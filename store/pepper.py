"""The pepper: a secret kept in a file outside Redis, shared with the web site's checks.

A pepper anyone else on the host can read (or replace) protects nothing, so a file that
is group- or world-accessible is refused; a new one is 0600 from the moment it exists.
"""

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
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise PepperMissing(
            f"pepper file {path} does not exist: run `ivrctl stack up` once, or point "
            "IVR_PEPPER_FILE at the file the web site uses"
        ) from None
    except OSError as exc:
        raise PepperMissing(f"pepper file {path} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PepperMissing(f"pepper file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise PepperMissing(
                f"pepper file {path} has mode {mode:04o}: group or others may access it "
                f"(chmod 600 {path}, and consider the pepper exposed)"
            )
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read()
    finally:
        os.close(fd)
    if len(data) < MIN_BYTES:
        raise PepperMissing(f"pepper file {path} is shorter than {MIN_BYTES} bytes")
    return data


def load_or_create(path: Path) -> bytes:
    """Load the pepper, creating it (mode 0600, random bytes) when missing.

    Written to a temporary file created 0600 by `os.open` itself (no chmod window) and
    linked into place, so two processes starting at once agree on one pepper and nobody
    ever reads a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
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
