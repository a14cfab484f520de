"""AMI for operations only: a call watcher writing JSON lines, and a ping.

Nothing in the call path waits on this module. panoramisk's Manager is created inside the
running loop; its own reconnect timers are replaced by one retry loop here, so ``stop``
ends the watcher promptly and a refused connection leaves no timer behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog
from panoramisk import Manager

from agi.wire import command_verb

log = structlog.get_logger(__name__)

# Fields kept per event: never an AGI command's arguments or result (keyed digits).
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Newchannel": ("Channel", "Uniqueid", "Linkedid", "CallerIDNum", "Exten", "Context"),
    "Hangup": ("Channel", "Uniqueid", "Linkedid", "Cause", "Cause-txt"),
    "VarSet": ("Channel", "Uniqueid", "Linkedid", "Variable", "Value"),
    "AGIExecStart": ("Channel", "Uniqueid", "Linkedid", "CommandId"),
    "AGIExecEnd": ("Channel", "Uniqueid", "Linkedid", "CommandId", "ResultCode"),
}
_WATCHED_PREFIX = "IVR_"


class AmiError(Exception):
    """AMI unreachable, login refused, or an action failed."""


class _LoginRefused(AmiError):
    """Bad credentials: not retried."""


class _Manager(Manager):
    """Manager whose connection loss is reported to us instead of retried on its own."""

    def __init__(self, lost: asyncio.Event, **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            self._lost.set()
            return
        super().connection_made(f)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self._lost.set()


def event_record(event: Mapping[str, Any], now: float | None = None) -> dict[str, Any] | None:
    """One AMI event → the JSON-able record we keep, or None when not relevant."""
    name = event.get("Event", "")
    fields = _FIELDS.get(name)
    if fields is None:
        return None
    if name == "VarSet" and not str(event.get("Variable", "")).startswith(_WATCHED_PREFIX):
        return None
    ts = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    record: dict[str, Any] = {"ts": ts.isoformat(timespec="milliseconds"), "event": name}
    record.update({k: event[k] for k in fields if k in event})
    if name.startswith("AGIExec") and "Command" in event:
        record["Command"] = command_verb(str(event["Command"]))
    return record


async def _connect(manager: Manager, timeout_s: float) -> None:
    """Connect and log in; raises AmiError (a refused login is not retried)."""
    try:
        await asyncio.wait_for(manager.connect(), timeout_s)
    except (OSError, TimeoutError) as exc:
        raise AmiError(f"AMI unreachable: {type(exc).__name__}") from exc
    future = manager.authenticated_future
    if future is None:
        raise AmiError("AMI connection closed before login")
    try:
        response = await asyncio.wait_for(future, timeout_s)
    except TimeoutError as exc:
        raise AmiError("AMI login timed out") from exc
    if not response.success:
        raise _LoginRefused("AMI login refused")


def _manager(lost: asyncio.Event, host: str, port: int, username: str, secret: str) -> Manager:
    return _Manager(
        lost,
        loop=asyncio.get_running_loop(),
        host=host,
        port=port,
        username=username,
        secret=secret,
        events="on",
    )


async def watch_calls(
    host: str,
    port: int,
    username: str,
    secret: str,
    out: TextIO,
    *,
    stop: asyncio.Event | None = None,
    retry_s: float = 2.0,
    connect_timeout_s: float = 5.0,
) -> None:
    """Write one JSON line per relevant event until ``stop`` is set; reconnects on loss.

    A refused login raises AmiError at once: retrying bad credentials helps no one.
    """
    stop = stop or asyncio.Event()

    def on_event(_manager: Manager, event: Mapping[str, Any]) -> None:
        record = event_record(event)
        if record is not None:
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()

    while not stop.is_set():
        lost = asyncio.Event()
        manager = _manager(lost, host, port, username, secret)
        manager.register_event("*", on_event)
        try:
            await _connect(manager, connect_timeout_s)
            log.info("ami.watching", host=host, port=port)
            await _first_of(stop.wait(), lost.wait())
        except _LoginRefused:
            raise
        except AmiError as exc:
            log.warning("ami.unavailable", reason=str(exc))
        finally:
            manager.close()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_s)


async def ami_ping(
    host: str, port: int, username: str, secret: str, *, timeout_s: float = 5.0
) -> float:
    """Log in, send Ping, return the round trip in seconds; raises AmiError."""
    manager = _manager(asyncio.Event(), host, port, username, secret)
    try:
        await _connect(manager, timeout_s)
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), timeout_s)
        except TimeoutError as exc:
            raise AmiError("AMI ping timed out") from exc
        if not response.success:
            raise AmiError("AMI ping failed")
        return time.monotonic() - started
    finally:
        manager.close()


# CoreShowChannel fields kept: never ApplicationData (an AGI URL's arguments hold a secret).
CHANNEL_FIELDS = (
    "Channel", "Uniqueid", "Linkedid", "CallerIDNum", "Context", "Exten", "ChannelStateDesc",
    "Application", "Duration",
)  # fmt: skip


def channel_vars(event: Mapping[str, Any]) -> dict[str, str]:
    """`ChanVariable: NAME=value` headers (one or many, per manager.conf channelvars)."""
    raw = event.get("ChanVariable", [])
    items = [raw] if isinstance(raw, str) else list(raw)
    return dict(item.split("=", 1) for item in items if "=" in item)


async def list_channels(
    host: str, port: int, username: str, secret: str, *, timeout_s: float = 5.0
) -> list[dict[str, Any]]:
    """The channels up now (CoreShowChannels): CHANNEL_FIELDS plus `vars`; raises AmiError."""
    manager = _manager(asyncio.Event(), host, port, username, secret)
    try:
        await _connect(manager, timeout_s)
        action = {"Action": "CoreShowChannels"}
        try:
            replies = await asyncio.wait_for(manager.send_action(action), timeout_s)
        except TimeoutError as exc:
            raise AmiError("CoreShowChannels timed out") from exc
        replies = replies if isinstance(replies, list) else [replies]
        if not replies or not replies[0].success:
            raise AmiError("CoreShowChannels refused")
        return [
            {**{k: r[k] for k in CHANNEL_FIELDS if k in r}, "vars": channel_vars(r)}
            for r in replies
            if r.get("Event") == "CoreShowChannel"
        ]
    finally:
        manager.close()


async def _first_of(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
