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

from ivr.config.settings import Settings
from ivr.flow.calllog import CallLogReader, LogLine
from ivr.flow.outcomes import Outcome
from ivr.tools import testrange, transcript
from ivr.tools.load import parse_target
from ivr.tools.plan import group_schedule, parse_keys
from loadgen.sipp import CallSpec, run_call


def _call_lines(reader: CallLogReader, caller: str, timeout_s: float) -> list[LogLine]:
    """This call's log lines (call.end last), waiting briefly for its call.end line."""
    lines, last = reader.until(lambda line: bool(line.end and line.end.caller == caller), timeout_s)
    return [line for line in lines if last is not None and line.call_id == last.call_id]


def main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    host, port, _local = parse_target(args.target, settings)
    groups = parse_keys(args.keys)
    presses = group_schedule(groups)
    log = settings.calls_log
    reader = CallLogReader.at_end(log)
    spec = CallSpec(did=args.did, caller_from=args.caller, schedule=presses, timeout_s=120)
    print(f"call {args.caller} -> {args.did} at {host}:{port}")
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as work:
        outcome = asyncio.run(run_call(spec, host, port, work))
    lines = _call_lines(reader, args.caller, 10)
    end = lines[-1].end if lines else None
    if end is None:
        print(f"  SIPp: exit {outcome.exit_code}, {outcome.elapsed_s:.1f} s; no call.end in {log}")
        return 1
    for line in transcript.derive(lines, groups):
        print(line.render())
    how = "answered" if end.answered else "refused before answer"
    print(
        f"outcome: {end.outcome} (step {end.step}, unit {end.unit}, target {end.target},"
        f" strikes {end.strikes}, {how}, {end.duration_ms / 1000:.1f} s)"
    )
    password = next((g for g in reversed(groups) if len(g) == 8 and g.isdigit()), None)
    if end.outcome != Outcome.SET or not end.target or password is None:
        return 1
    result = testrange.verify_all(settings, {end.target: password})[end.target]
    print(f"tpw verify {end.target}: {result}")
    return 0 if result == "ok" else 1
