"""Clients and their bearer tokens, from one 0600 file; scopes `site` and `operator`.

One line per client: `CLIENT_ID SCOPES TOKEN` (scopes comma-separated), `#` starts a
comment. A presented token is compared with every client's in constant time
(`hmac.compare_digest`, no early exit), so timing tells neither which client nor how much
of a token matched. The file is refused when group or others may access it, and a new
one is 0600 from its creation; tokens never reach a log, a metric or an error.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

SCOPES = frozenset({"site", "operator"})
_CLIENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TOKEN = re.compile(r"[A-Za-z0-9_.~+/=-]{32,256}")
DEFAULT_CLIENTS = (("site", "site"), ("operator", "operator"))


class TokensFileError(ValueError):
    """The tokens file is missing, readable by others or malformed (names the line)."""


@dataclass(frozen=True)
class Client:
    id: str
    scopes: frozenset[str]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Tokens:
    def __init__(self, entries: list[tuple[Client, bytes]]) -> None:
        self._entries = entries

    @property
    def clients(self) -> list[Client]:
        return [client for client, _ in self._entries]

    @classmethod
    def load(cls, path: Path) -> Tokens:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise TokensFileError(f"tokens file {path}: {exc.strerror}") from None
        with os.fdopen(fd, encoding="utf-8") as file:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                raise TokensFileError(f"tokens file {path} has mode {mode:04o}: chmod 600 it")
            lines = file.read().splitlines()
        entries, seen = [], set()
        for number, line in enumerate(lines, 1):
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            scopes = frozenset(parts[1].split(",")) if len(parts) == 3 else frozenset()
            if (
                len(parts) != 3
                or not _CLIENT.fullmatch(parts[0])
                or not scopes <= SCOPES
                or not _TOKEN.fullmatch(parts[2])
                or parts[0] in seen
            ):
                raise TokensFileError(
                    f"{path}:{number}: expected `CLIENT_ID site|operator[,…] TOKEN` (a new"
                    " client id; a token of 32+ URL-safe characters)"
                )
            seen.add(parts[0])
            entries.append((Client(parts[0], scopes), parts[2].encode()))
        return cls(entries)

    def authenticate(self, authorization: str | None) -> Client | None:
        """The client whose token the `Authorization: Bearer …` header carries, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization[len("Bearer ") :].strip().encode()
        found = None
        for client, token in self._entries:  # every entry compared: no early exit
            if hmac.compare_digest(presented, token):
                found = client
        return found


def add_client(path: Path, client_id: str, scopes: frozenset[str]) -> str:
    """Append a client with a new token (the file created 0600 when missing); the token."""
    if not _CLIENT.fullmatch(client_id) or not scopes or not scopes <= SCOPES:
        raise TokensFileError("a client id is 1-64 of A-Z a-z 0-9 _ . - with scopes site/operator")
    if path.exists() and client_id in {c.id for c in Tokens.load(path).clients}:
        raise TokensFileError(f"client {client_id} is already in {path}")
    token = new_token()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        file.write(f"{client_id} {','.join(sorted(scopes))} {token}\n")
    return token


def ensure_file(path: Path) -> bool:
    """A tokens file with one `site` and one `operator` client, unless one exists; True when
    created (read the tokens from the file: they are printed nowhere)."""
    if path.exists():
        return False
    for client_id, scope in DEFAULT_CLIENTS:
        add_client(path, client_id, frozenset({scope}))
    return True
