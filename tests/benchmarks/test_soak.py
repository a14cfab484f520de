"""The soak benchmark: its slope on made-up samples, and a short soak of the real stack.

The short soak (marker e2e, ~3.5 min) is CI's leak check: 3 minutes at 5 calls/s on the
single-node stack, sampled every 20 s; after a 60 s warm-up, no figure may grow beyond its
bound per 1,000 calls (benchmarks.soak.BOUNDS), every Redis key but the contracts' units has a
TTL, and every call ended `set`.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import BOUNDS, FIGURES, Sample, Soak, report, run


def sample(t_s: float, ended: int, rss: float) -> Sample:
    return Sample(t_s=t_s, calls_ended=ended, outcomes={"set": 10}, agi_rss_mb=rss, agi_fds=40,
                  agi_lag_ms=1.0, asterisk_rss_mb=50.0, asterisk_channels=5, redis_used_mb=1.0,
                  redis_keys=ended * 3, redis_keys_no_ttl=0, log_mb=ended * 0.0006)  # fmt: skip


def test_growth_is_the_slope_after_warm_up_and_fails_beyond_its_bound() -> None:
    # warm-up: RSS jumps 20 MB (ignored); then 3 MB per 1,000 calls, above the 2 MB bound
    soak = Soak(rate=5, warmup_s=60, samples=[sample(0, 0, 30.0)] + [
        sample(60 * k, 1000 * k, 50.0 + 3.0 * k) for k in range(1, 6)])  # fmt: skip
    growth = soak.growth_per_1000()
    assert set(growth) == {*FIGURES, "redis_no_ttl_extra"}
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
    soak = run(minutes=3, rate=5, every_s=20, warmup_s=60)
    print("\n" + "\n".join(report(soak)))
    assert len(soak.samples) >= 9
    assert soak.samples[-1].calls_ended == 900, soak.outcomes()
    assert soak.failures() == []
    assert soak.no_ttl_extra()[-1] <= 0  # no key without a TTL but the contracts' units
