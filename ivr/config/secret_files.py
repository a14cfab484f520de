"""Secrets the stack shares with Asterisk and Redis, each in its own 0600 file.

Created with their mode by os.open (no moment when another user could read them), read
back when present, and refused when group- or world-accessible. Never on a command line.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class SecretFileError(ValueError):
    """A secret file that cannot be trusted (wrong mode) or read: one line, names the file."""


def private_dir(path: Path) -> Path:
    """A directory only its owner can enter (0700), created or tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """(Re)write a file that may hold a secret, 0600 before the first byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(fd, 0o600)
        out.write(text)


def read_secret(path: Path) -> str:
    """The secret in path; refused when group- or world-accessible."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretFileError(
                f"{path}: mode {mode:04o} lets others read it; chmod 600 {path} (or replace it)"
            )
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretFileError(f"{path}: {exc.strerror or exc}") from None
    if not value:
        raise SecretFileError(f"{path}: empty secret")
    return value


def read_or_create(path: Path, nbytes: int = 24) -> str:
    """The secret in path, created (random, 0600, exclusively) when missing. A secret that
    exists is only read: its directory may be another's (/run/secrets in a container)."""
    if path.exists():
        return read_secret(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(nbytes) + "\n")
    return read_secret(path)
