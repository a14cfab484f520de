"""A real Prometheus scrapes our /metrics; PromQL returns exactly what we counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ivr.service.metrics import Metrics
from ivr.service.metrics_http import MetricsServer
from tests.promutil import Prometheus

CALLS = {"set": 3, "failed_strikes": 2, "abandoned": 1, "error_store": 1}


async def test_prometheus_scrapes_calls_by_outcome(tmp_path: Path) -> None:
    metrics = Metrics()
    server = MetricsServer(metrics.registry, port=0)
    await server.start()
    prom = Prometheus({"ivr": [f"127.0.0.1:{server.port}"]}, workdir=tmp_path)
    try:
        await asyncio.to_thread(prom.start)
        # The series exist at 0 before the first call, so Prometheus sees them rise from 0.
        zero = await asyncio.to_thread(
            prom.wait_for, 'ivr_calls_total{job="ivr"}', lambda r: len(r) == 10
        )
        assert set(zero.values()) == {0.0}
        for outcome, n in CALLS.items():
            for _ in range(n):
                with metrics.call_in_progress():
                    metrics.observe_call_end(outcome)
        metrics.strike("password", "mismatch")
        expected = {((("outcome", o),)): float(n) for o, n in CALLS.items()}
        by_outcome = await asyncio.to_thread(
            prom.wait_for,
            "sum by (outcome) (ivr_calls_total) > 0",
            lambda r: r == expected,
        )
        assert by_outcome == expected
        total = await asyncio.to_thread(prom.query, "sum(ivr_calls_total)")
        assert total == {(): 7.0}
        strikes = await asyncio.to_thread(prom.query, "ivr_strikes_total > 0")
        assert list(strikes.values()) == [1.0]
        ((labels, _),) = strikes.items()
        assert ("step", "password") in labels and ("reason", "mismatch") in labels
        up = await asyncio.to_thread(prom.query, 'up{job="ivr"}')
        assert list(up.values()) == [1.0]
        process = await asyncio.to_thread(prom.query, 'process_resident_memory_bytes{job="ivr"}')
        assert list(process.values())[0] > 0
    finally:
        await asyncio.to_thread(prom.stop)
        await server.close()
    assert prom.proc is None
