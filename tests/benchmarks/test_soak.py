"""The soak benchmark: its slope on made-up samples, and a short soak of the real stack.

The short soak (marker e2e, ~3 min) is CI's leak check: 2.5 minutes at 4 calls/s on the
single-node stack, sampled every 10 s; in the steady state (past 75 s and the ramp of calls
up), no figure may grow beyond its CI bound per 1,000 calls (benchmarks.soak.CI_BOUNDS,
looser than the long soak's BOUNDS: a few hundred calls show only a gross leak), every key
but the contracts' units has a TTL, and every call ended `set`.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import BOUNDS, CI_BOUNDS, FIGURES, Sample, Soak, report, run


def sample(t_s: float, ended: int, rss: float) -> Sample:
    return Sample(t_s=t_s, calls_ended=ended, outcomes={"set": 10}, agi_rss_mb=rss, agi_fds=40,
                  agi_lag_ms=1.0, asterisk_rss_mb=50.0, asterisk_channels=5, redis_used_mb=1.0,
                  redis_keys=ended * 3, redis_keys_no_ttl=0, log_mb=ended * 0.0006)  # fmt: skip


def test_growth_is_the_slope_after_warm_up_and_fails_beyond_its_bound() -> None:
    # warm-up: RSS jumps 20 MB (ignored); then 3 MB per 1,000 calls, above the 2 MB bound
    soak = Soak(rate=5, warmup_s=60, samples=[sample(0, 0, 30.0)] + [
        sample(60 * k, 1000 * k, 50.0 + 3.0 * k) for k in range(1, 6)])  # fmt: skip
    growth = soak.growth_per_1000()
    assert set(growth) == set(FIGURES)
    assert growth["agi_rss_mb"] == pytest.approx(3.0)
    assert growth["agi_fds"] == pytest.approx(0.0)
    assert growth["redis_keys"] == pytest.approx(3000.0)  # by design: bounded by the TTLs
    bound = BOUNDS["agi_rss_mb"]
    assert soak.failures() == [f"agi_rss_mb grows +3.00 per 1,000 calls (bound {bound:g})"]
    flat = Soak(rate=5, warmup_s=60, samples=[sample(60 * k, 1000 * k, 50.0) for k in range(1, 6)])
    assert flat.failures() == []
    assert report(flat)[-1] == "result: PASS"


@pytest.mark.e2e
def test_short_soak_shows_no_growth_beyond_the_bounds() -> None:
    soak = run(minutes=2.5, rate=4, every_s=10, warmup_s=75)  # past the KDF threads' start
    print("\n" + "\n".join(report(soak)))
    assert len(soak.steady()) >= 4, "no steady state: the machine is too busy"
    assert soak.samples[-1].calls_ended == 600, soak.outcomes()
    assert soak.failures(CI_BOUNDS) == []
    assert soak.samples[-1].redis_no_ttl_other == 0  # only the contracts' units have no TTL
