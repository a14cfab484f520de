"""benchmarks.bench_fastagi with small numbers, so the benchmark keeps working as the code
changes: the real server, 50 simulated Asterisk calls, every one a password set."""

from __future__ import annotations

from benchmarks.bench_fastagi import measure, parser

CALLS = 50


def test_every_call_sets_its_password() -> None:
    args = parser().parse_args(
        ["--calls", str(CALLS), "--ramp", "100", "--rate", "100", "--think", "0.02"]
    )
    result = measure(args)
    assert result.outcomes == {"set": CALLS}, (result.outcomes, result.warnings)
    assert result.hung_up == CALLS and result.call_ends == CALLS
    assert result.verified == "3/3"  # the web site's check accepts what was keyed
    assert result.kdf_step_ms["n"] == CALLS  # each call's store step was found and set apart
    assert result.turnaround_ms["n"] >= 6 * CALLS  # commands a call besides the entries
    assert result.rss_waiting_kib > 0 and result.rss_idle_kib > 0
