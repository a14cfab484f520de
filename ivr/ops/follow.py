"""Follow a growing log file across rotation, losing no line and repeating none.

logrotate rotates in two ways, and `tail -F` loses lines in both:
- rename-and-create: the writer may still append to the renamed file until it reopens its
  log (SIGHUP). We keep the old descriptor and keep reading it until it has been quiet
  for a grace period, then close it.
- copytruncate: the file is copied, then truncated in place. We notice it because the file
  is shorter than what we read, or because the bytes just before our offset changed (the
  writer may have written past our old offset before we looked). The lines we had not read
  yet are in the copy beside the log, which we find by those same bytes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SIG_BYTES = 64  # the last bytes read: the file's identity at our offset
CHUNK = 1 << 20  # at most this much per read, so one poll never holds a huge file
COMPRESSED = (".gz", ".xz", ".bz2", ".zst")


class _Source:
    """One open file: descriptor, offset, the unfinished last line and the signature."""

    def __init__(self, fd: int) -> None:
        st = os.fstat(fd)
        self.fd = fd
        self.ident = (st.st_dev, st.st_ino)
        self.pos = 0
        self.partial = b""
        self.sig = b""
        self.last_growth = time.monotonic()

    def read_new(self) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            data = os.pread(self.fd, CHUNK, self.pos)
            if not data:
                return lines
            self.last_growth = time.monotonic()
            self.pos += len(data)
            self.sig = (self.sig + data)[-SIG_BYTES:]
            *complete, self.partial = (self.partial + data).split(b"\n")
            lines.extend(line + b"\n" for line in complete)

    def truncated(self) -> bool:
        """The file no longer holds what we read before our offset (copytruncate)."""
        if self.pos == 0:
            return False
        if os.fstat(self.fd).st_size < self.pos:
            return True
        return os.pread(self.fd, len(self.sig), self.pos - len(self.sig)) != self.sig

    def close(self) -> None:
        os.close(self.fd)


class Follower:
    """Poll a path; `poll()` returns the complete lines that appeared since the last poll."""

    def __init__(self, path: Path, *, grace_s: float = 2.0) -> None:
        self.path = Path(path)
        self.grace_s = grace_s
        self._cur: _Source | None = None
        self._old: list[_Source] = []  # renamed away, maybe still written to until reopened

    def poll(self) -> list[bytes]:
        lines: list[bytes] = []
        for old in list(self._old):  # the renamed file first: its lines are the older ones
            lines.extend(old.read_new())
            if time.monotonic() - old.last_growth > self.grace_s:
                old.close()
                self._old.remove(old)
        cur = self._cur
        if cur is not None and cur.truncated():
            lines.extend(self._recover_copy(cur))
            cur.pos, cur.partial, cur.sig = 0, b"", b""
        if cur is not None:
            lines.extend(cur.read_new())
        ident = self._path_ident()
        if ident is not None and (cur is None or ident != cur.ident):
            if cur is not None:
                self._old.append(cur)
            self._cur = self._open()
            if self._cur is not None:
                lines.extend(self._cur.read_new())
        return lines

    def _path_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino)

    def _open(self) -> _Source | None:
        try:
            return _Source(os.open(self.path, os.O_RDONLY | os.O_CLOEXEC))
        except FileNotFoundError:
            return None

    def _recover_copy(self, src: _Source) -> list[bytes]:
        """Lines of the copy after our offset: what copytruncate took before we read it."""
        for copy in self._copies():
            try:
                fd = os.open(copy, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                start = src.pos - len(src.sig)
                if os.pread(fd, len(src.sig), start) != src.sig:
                    continue
                rest = _Source(fd)
                rest.pos, rest.partial = src.pos, src.partial
                lines = rest.read_new()
                if rest.partial:  # the copy ends mid-line only if the writer was cut off
                    lines.append(rest.partial + b"\n")
                return lines
            finally:
                os.close(fd)
        return []

    def _copies(self) -> list[Path]:
        """Uncompressed siblings named like the log (calls.jsonl.1, calls.jsonl-20250101)."""
        found = [
            p
            for p in self.path.parent.glob(self.path.name + "?*")
            if p.is_file() and not p.name.endswith(COMPRESSED)
        ]
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)[:5]

    def close(self) -> None:
        for src in [*self._old, *([self._cur] if self._cur else [])]:
            src.close()
        self._old, self._cur = [], None
