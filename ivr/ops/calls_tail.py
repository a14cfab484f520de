"""`ivrctl calls tail`: finished calls from the call log, one readable line each.

Operators read it while a subscriber is on the phone with support, so a line says when
(local time), who called which DID, what they chose, how it ended and where. `--json`
passes the call log's own lines through unchanged for `jq`; `-f` follows the log across
rotation (see ivr/ops/follow.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from ivr.config.settings import Settings
from ivr.flow.calllog import CallEnd, LogLine, parse_line
from ivr.ops.follow import Follower

POLL_S = 0.25  # how often -f looks at the file
_COLOUR = {"set": "32", "error_store": "31", "error_internal": "31", "timeout_call": "31"}
_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """ISO 8601 (a time without offset is local) or a span back from now: 90s, 15m, 2h, 1d."""
    now = now or datetime.now().astimezone()
    rel = _RELATIVE.match(text.strip())
    if rel:
        return now - timedelta(**{_UNITS[rel.group(2)]: int(rel.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since: {text!r} is neither ISO 8601 (2025-01-31T09:00) nor a span (15m, 2h, 1d)"
        ) from None
    return when if when.tzinfo else when.astimezone()


@dataclass(frozen=True)
class Filter:
    outcome: str | None = None
    caller: str | None = None
    since: datetime | None = None

    def accepts(self, line: LogLine) -> bool:
        end = line.end
        if end is None:
            return False
        if self.outcome is not None and end.outcome != self.outcome:
            return False
        if self.caller is not None and end.caller != self.caller:
            return False
        if self.since is not None:
            when = line.timestamp
            return when is not None and when >= self.since
        return True


def render(line: LogLine, *, colour: bool = False) -> str:
    """One readable line: local time, caller → DID, unit, target, outcome, step, strikes, time."""
    end = line.end or CallEnd.from_record({})
    when = line.timestamp
    stamp = when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else "-"
    shown = f"{_s(end.outcome):<23}"
    if colour:
        shown = f"\x1b[{_COLOUR.get(end.outcome, '33')}m{shown}\x1b[0m"
    duration = f"{end.duration_ms / 1000:.1f}s"
    return (
        f"{stamp}  {_s(end.caller):<12} → {_s(end.did):<10}  "
        f"{_s(end.unit):<10} {_s(end.target):<12} {shown} "
        f"step={_s(end.step):<12} strikes={end.strikes} {duration:>7}"
    )


def _s(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


class Printer:
    """Turns matching call-log lines into output lines (raw for --json)."""

    def __init__(self, out: TextIO, flt: Filter, *, as_json: bool, colour: bool) -> None:
        self.out, self.flt, self.as_json, self.colour = out, flt, as_json, colour

    def select(self, raws: list[bytes]) -> list[str]:
        shown = []
        for raw in raws:
            line = parse_line(raw)
            if line is not None and self.flt.accepts(line):
                text = raw.decode("utf-8", "replace")
                shown.append(text if self.as_json else render(line, colour=self.colour) + "\n")
        return shown

    def emit(self, lines: list[str]) -> None:
        if lines:
            self.out.write("".join(lines))
            self.out.flush()


def tail(
    path: Path,
    printer: Printer,
    *,
    n: int,
    follow: bool = False,
    stop: threading.Event | None = None,
    poll_s: float = POLL_S,
) -> None:
    """Print the last n matching calls; with follow, then every new one until stop is set."""
    follower = Follower(path)
    try:
        printer.emit(list(deque(printer.select(follower.poll()), maxlen=n)) if n else [])
        if not follow:
            return
        stop = stop or threading.Event()
        while not stop.wait(poll_s):
            printer.emit(printer.select(follower.poll()))
    finally:
        follower.close()


def _normal_caller(text: str) -> str:
    number = re.sub(r"[\s-]", "", text)
    if not number:
        raise ValueError("--caller: give a number, e.g. 0664806000")
    return number


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:

    out = out or sys.stdout
    if args.lines < 0:
        raise ValueError(f"-n must not be negative, got {args.lines}")
    flt = Filter(
        outcome=args.outcome,
        caller=_normal_caller(args.caller) if args.caller is not None else None,
        since=parse_since(args.since) if args.since is not None else None,
    )
    colour = out.isatty() and "NO_COLOR" not in os.environ
    printer = Printer(out, flt, as_json=args.json, colour=colour)
    path = Settings.from_env().calls_log
    if not args.follow and not path.exists():
        print(f"ivrctl: no call log at {path}", file=sys.stderr)
        return 1
    try:
        tail(path, printer, n=args.lines, follow=args.follow)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stdout = None  # type: ignore[assignment]  # no flush error at exit
    return 0
