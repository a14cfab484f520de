"""AMI for operators: the channels up now (`ivrctl calls live`), one query per look.

Nothing in the call path waits on this module. panoramisk's Manager reconnects on its own
after a failed or lost connection; a one-shot query wants none of that, so ``_OneShot``
turns both callbacks into "closed" and every look leaves no timer behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from panoramisk import Manager


class AmiError(Exception):
    """AMI unreachable, login refused, or an action failed."""


class _OneShot(Manager):
    """A Manager that never reconnects: a failed connect or a loss just closes it."""

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # connect() raises to our caller; no reconnect timer
        super().connection_made(f)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.close()


async def _connect(manager: Manager, timeout_s: float) -> None:
    """Connect and log in; raises AmiError."""
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
        raise AmiError("AMI login refused")


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
    manager = _OneShot(
        loop=asyncio.get_running_loop(),
        host=host,
        port=port,
        username=username,
        secret=secret,
        events="on",  # as before: the listing arrives as events of the action
    )
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
