"""The call log's sink, reopenable on SIGHUP so logrotate can rename the file under it.

Like ivr.calllog.JsonLinesSink: one os.write per line on an O_APPEND descriptor, so lines
from several processes never interleave and a line is in the file whole or not at all.
`reopen()` opens the path anew *before* closing the old descriptor and swaps them under a
lock: every line goes to exactly one of the two files (the renamed one until the swap, the
new one after), none is lost, none is written twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

MODE = 0o640


class ReopenableSink:
    """A file-like sink for structlog's WriteLoggerFactory, with `reopen()`."""

    def __init__(self, path: Path, *, stdout: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = self._open()
        self._stdout = stdout
        self.reopened = 0  # how many times reopen() swapped files (for tests and probes)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)

    def write(self, message: str) -> None:
        line = message if message.endswith("\n") else message + "\n"
        data = line.encode("utf-8")
        with self._lock:
            if self._fd is not None:
                _write_all(self._fd, data)
        if self._stdout:
            sys.stdout.write(line)

    def reopen(self) -> None:
        """Point the sink at whatever file now has our path (the new one after a rename)."""
        new = self._open()
        with self._lock:
            old, self._fd = self._fd, new
            self.reopened += 1
        if old is not None:
            os.close(old)

    def flush(self) -> None:
        if self._stdout:
            sys.stdout.flush()

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """One write: a regular file takes a whole line at once; the loop only guards against
    a short write (a full disk), where the rest must still not be dropped."""
    while data:
        data = data[os.write(fd, data) :]


def reopen_on_sighup(loop: asyncio.AbstractEventLoop, sink: ReopenableSink) -> None:
    """Reopen the sink from the event loop when SIGHUP arrives (logrotate's postrotate)."""
    loop.add_signal_handler(signal.SIGHUP, sink.reopen)
