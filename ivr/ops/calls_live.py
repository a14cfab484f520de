"""`ivrctl calls live`: the calls in progress now, from AMI (operators on the phone with support).

One CoreShowChannels round trip per look: channel, caller, DID, current step and age of each
channel inside the service's dialplan. The step is the channel variable the adaptor sets as
the flow enters a step (manager.conf's `channelvars` puts it into CoreShowChannel). Nothing
here sees a key: the AMI user has no `dialplan` or `agi` read class.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TextIO

from ivr.config import variables as var
from ivr.config.secret_files import read_secret
from ivr.config.settings import Settings
from ivr.ops.ami import AmiError, list_channels

AMI_HOST = "127.0.0.1"  # manager.conf binds loopback only
# extensions.conf: the contexts a call sits in while in the flow (ivr-entry: keying an entry)
FLOW_CONTEXTS = frozenset({"tmp-password", "ivr-entry"})


@dataclass(frozen=True)
class LiveCall:
    channel: str
    call_id: str
    caller: str
    did: str
    step: str  # "" until the flow announced its first step
    age_s: int


def _seconds(duration: str) -> int:
    """CoreShowChannel's Duration, HH:MM:SS → seconds (0 when unreadable)."""
    try:
        h, m, s = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s


def live_calls(channels: list[dict[str, Any]]) -> list[LiveCall]:
    """The service's calls among AMI's channels, oldest first."""
    calls = [
        LiveCall(
            channel=str(ch.get("Channel", "")),
            call_id=str(ch.get("Uniqueid", "")),
            caller=str(ch.get("CallerIDNum", "")),
            did=str(ch.get("vars", {}).get(var.DID) or ch.get("Exten", "")),
            step=str(ch.get("vars", {}).get(var.STEP, "")),
            age_s=_seconds(str(ch.get("Duration", ""))),
        )
        for ch in channels
        if ch.get("Context") in FLOW_CONTEXTS
    ]
    return sorted(calls, key=lambda c: (-c.age_s, c.call_id))


async def snapshot(settings: Settings, *, timeout_s: float = 5.0) -> list[LiveCall]:
    """Ask AMI once; raises AmiError when it cannot be reached or refuses."""
    secret = read_secret(settings.state_dir / "ami-secret")
    channels = await list_channels(
        AMI_HOST, settings.ami_port, var.AMI_USER, secret, timeout_s=timeout_s
    )
    return live_calls(channels)


def _age(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def render(calls: list[LiveCall], *, as_json: bool, now: datetime | None = None) -> str:
    """One JSON object per look (`calls`: a list), or a table for people."""
    now = now or datetime.now().astimezone()
    if as_json:
        doc = {"time": now.isoformat(timespec="seconds"), "calls": [asdict(c) for c in calls]}
        return json.dumps(doc, ensure_ascii=False) + "\n"
    head = f"{now:%H:%M:%S}  {len(calls)} call{'s' if len(calls) != 1 else ''} in progress\n"
    if not calls:
        return head
    rows = [("CHANNEL", "CALLER", "DID", "STEP", "AGE")]
    rows += [(c.channel, c.caller, c.did, c.step or "-", _age(c.age_s)) for c in calls]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return head + "\n".join(lines) + "\n"


async def _loop(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    clear = args.watch and not args.json and out.isatty()
    while True:
        text = render(await snapshot(settings), as_json=args.json)
        out.write(("\x1b[H\x1b[2J" if clear else "") + text)
        out.flush()
        if not args.watch:
            return
        await asyncio.sleep(args.interval)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.interval <= 0:
        raise ValueError(f"--interval must be positive, got {args.interval}")
    settings = Settings.from_env()
    if not (settings.state_dir / "ami-secret").exists():
        print(f"ivrctl: no AMI secret in {settings.state_dir}: is the stack up?", file=sys.stderr)
        return 1
    try:
        asyncio.run(_loop(settings, args, out))
    except AmiError as exc:
        print(f"ivrctl: {exc} (AMI {AMI_HOST}:{settings.ami_port})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        sys.stdout = None  # type: ignore[assignment]
    return 0
