"""The call log's sink, reopenable on SIGHUP so logrotate can rename the file under it.

One os.write per line on an O_APPEND descriptor, so lines from several processes never
interleave and a line is in the file whole or not at all.
`reopen()` opens the path anew *before* closing the old descriptor and swaps them under a
lock: every line goes to exactly one of the two files (the renamed one until the swap, the
new one after), none is lost, none is written twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import threading
from collections.abc import MutableMapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

MODE = 0o600  # the call log names callers: the service's user only
REDACTED = "[redacted]"


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


# Field names that could carry secrets or keys: substrings, and whole words for short ones.
_SECRET_PARTS = ("password", "passwd", "secret", "digit", "dtmf", "verifier", "pepper")
_SECRET_WORDS = frozenset({"pw", "pin", "key", "keys", "keyed"})
_WORD = re.compile(r"[a-z0-9]+")


def _is_secret_name(name: str) -> bool:
    low = name.lower()
    return any(part in low for part in _SECRET_PARTS) or bool(
        _SECRET_WORDS.intersection(_WORD.findall(low))
    )


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_name(str(k)) else _redact(v) for k, v in value.items()}
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace every field named like a password, PIN, digits or keys (nested dicts too)."""
    for name in list(event_dict):
        if name != "event" and _is_secret_name(name):
            event_dict[name] = REDACTED
        else:
            event_dict[name] = _redact(event_dict[name])
    return event_dict


def add_timestamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Local time with its offset, so lines from machines in any zone sort and compare."""
    event_dict["timestamp"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
    return event_dict


def configure_logging(
    calls_log: Path, *, stdout: bool = True, extra: Sequence[Any] = ()
) -> ReopenableSink:
    """Route structlog to JSON Lines on stdout and calls_log; returns the sink to close.

    extra: processors that observe each event (e.g. metrics) after redaction.
    """
    sink = ReopenableSink(calls_log, stdout=stdout)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_timestamp,
            redact_secrets,
            *extra,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=sink),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return sink


def _dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, **kw)
