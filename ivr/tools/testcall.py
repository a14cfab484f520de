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
import tempfile
import time
from pathlib import Path
from typing import Any

from ivr.config.settings import Settings
from ivr.tools import testrange, transcript
from ivr.tools.load import log_records, parse_target
from ivr.tools.plan import group_schedule, parse_keys
from loadgen.sipp import CallSpec, run_call


def _find_end(log: Path, offset: int, caller: str, timeout_s: float) -> list[dict[str, Any]]:
    """This call's log records (call.end last), waiting briefly for the call.end line."""
    deadline = time.monotonic() + timeout_s
    while True:
        recs = list(log_records(log, offset))
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
    presses = group_schedule(groups)
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
