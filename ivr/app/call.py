"""`ivrctl call`: one real SIPp dial-in with generated RFC 4733 keys, and what the caller heard.

The default call is the README's first call: from the first demo subscriber (loaded by
`make run` into an empty directory), unit 1, password 24681357 twice. Each key group is sent
2.5 s after the previous one (or after the answer); keys barge into the prompts.
Afterwards the web site's login check (`tpw verify`) is run for the target with the
password keyed, and printed as its result only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ivr.app import testrange, transcript
from ivr.app.load import DEFAULT_DID, ENTRY_GAP_S, KEY_GAP_S, parse_target
from ivr.app.settings import Settings
from loadgen.rtp_pcap import KeyPress, keys_at
from loadgen.sipp import CallSpec, run_call

DEMO_FIRST = testrange.SIZE - 10  # 0690099990-0690099992: make run's demo subscribers
DEMO_NUMBERS = testrange.test_numbers(3, offset=DEMO_FIRST)
DEFAULT_KEYS = "1,24681357,24681357"


def parse_keys(text: str) -> list[str]:
    groups = [g.strip() for g in text.split(",")]
    if not groups or any(not g or set(g) - set("0123456789*#") for g in groups):
        raise ValueError(f"--keys must be comma-separated groups of 0-9, * and #, not {text!r}")
    return groups


def schedule(groups: list[str]) -> list[KeyPress]:
    presses: list[KeyPress] = []
    at = 0.0
    for group in groups:
        start = at + ENTRY_GAP_S
        presses += keys_at(start, group, KEY_GAP_S)
        at = start + KEY_GAP_S * (len(group) - 1)
    return presses


def _records(log: Path, offset: int) -> list[dict[str, Any]]:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            raw = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in raw.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _find_end(log: Path, offset: int, caller: str, timeout_s: float) -> list[dict[str, Any]]:
    """This call's log records (call.end last), waiting briefly for the call.end line."""
    deadline = time.monotonic() + timeout_s
    while True:
        recs = _records(log, offset)
        ends = [r for r in recs if r.get("event") == "call.end" and r.get("caller") == caller]
        if ends:
            call_id = ends[-1].get("call_id")
            return [r for r in recs if r.get("call_id") == call_id]
        if time.monotonic() > deadline:
            return []
        time.sleep(0.1)  # another process appends the line


def main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    host, port, _local = parse_target(args.target, settings)
    groups = parse_keys(args.keys)
    presses = schedule(groups)
    log = settings.calls_log
    offset = log.stat().st_size if log.exists() else 0
    spec = CallSpec(did=args.did, caller_from=args.caller, schedule=presses, timeout_s=120)
    print(f"call {args.caller} -> {args.did} at {host}:{port}")
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as work:
        outcome = asyncio.run(run_call(spec, host, port, work))
    recs = _find_end(log, offset, args.caller, 10)
    if not recs:
        print(f"  SIPp: exit {outcome.exit_code}, {outcome.elapsed_s:.1f} s; no call.end in {log}")
        return 1
    end = recs[-1]
    strikes = [r for r in recs if r.get("event") == "call.strike"]
    for line in transcript.derive(
        end, strikes, groups, caller=args.caller, tries=settings.timing.tries
    ):
        print(line.render())
    how = "answered" if end.get("answered") else "refused before answer"
    print(
        f"outcome: {end.get('outcome')} (step {end.get('step')}, unit {end.get('unit')},"
        f" target {end.get('target')}, strikes {end.get('strikes')}, {how},"
        f" {int(end.get('duration_ms') or 0) / 1000:.1f} s)"
    )
    target = end.get("target")
    password = next((g for g in reversed(groups) if len(g) == 8 and g.isdigit()), None)
    if end.get("outcome") != "set" or not target or password is None:
        return 1
    result = testrange.verify_all(settings, {target: password})[target]
    print(f"tpw verify {target}: {result}")
    return 0 if result == "ok" else 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("call", help="one SIPp dial-in with keys, and its transcript")
    p.add_argument(
        "--from", dest="caller", default=DEMO_NUMBERS[0],
        help=f"caller number (default: demo subscriber {DEMO_NUMBERS[0]})",
    )  # fmt: skip
    p.add_argument("--did", default=DEFAULT_DID, help=f"number dialled (default {DEFAULT_DID})")
    p.add_argument("--keys", default=DEFAULT_KEYS, help=f"key groups (default {DEFAULT_KEYS})")
    p.add_argument("--target", help="HOST:PORT of the SIP service (default: the local stack)")
    p.set_defaults(func=main)


def load_demo_if_empty(settings: Settings) -> list[str]:
    """`make run` only: the demo subscribers, when the directory holds no number at all."""
    from sqlalchemy import select  # noqa: PLC0415

    from store.directory import Directory, migrate  # noqa: PLC0415
    from store.models import SubscriberRow  # noqa: PLC0415

    migrate(settings.database_url)
    directory = Directory.from_url(settings.database_url)
    try:
        with directory.engine.connect() as conn:
            if conn.execute(select(SubscriberRow.number).limit(1)).first() is not None:
                return []
    finally:
        directory.close()
    testrange.import_numbers(settings, DEMO_NUMBERS)
    return list(DEMO_NUMBERS)
