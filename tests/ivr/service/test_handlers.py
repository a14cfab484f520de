"""The service's scripts over a real FastAGI socket: what each call end and refusal counts.

The hangup handler's report of a call every server refused at IVR_AGI_MAX_CALLS logs
`rejected_capacity` and counts the call once (its refusals were counted at each cap); the
directory and limiter ports are timed into ivr_store_seconds.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from ivr.config import variables as var
from ivr.flow.timing import Timing
from ivr.service import handlers
from ivr.service.admission import Admission
from ivr.service.metrics import Metrics
from ivr.service.timed import TimedDirectory, TimedLimiter
from store.types import StoreUnavailable
from tests.agi.fake_asterisk import (
    FakeAsterisk,
    ServerFactory,
    env_bytes,
    make_server,  # noqa: F401  (a fixture)
)
from tests.ivr.conftest import SUBSCRIBERS
from tests.ivr.fakes import FakeDirectory, FakeLimiter, FakeStore


def service(metrics: Metrics) -> handlers.Service:
    return handlers.Service(
        directory=FakeDirectory(),
        store=FakeStore(),
        limiter=FakeLimiter(),
        timing=Timing(),
        admission=Admission(0),
        metrics=metrics,
    )


def report_env(uniqueid: str, main: str, busy: str) -> bytes:
    args = f"agi_arg_1: s\nagi_arg_2: {main}\nagi_arg_3: 2500\nagi_arg_4: 0664806430\n"
    args += f"agi_arg_5: {busy}\n" if busy else ""
    return env_bytes(var.CALL_END_SCRIPT, uniqueid).replace(b"\n\n", f"\n{args}\n".encode())


def sample(m: Metrics, name: str, **lbl: str) -> float:
    value = m.registry.get_sample_value(name, lbl or None)
    assert value is not None, f"no sample {name}{lbl}"
    return value


async def test_reports_of_calls_the_flow_never_saw(make_server: ServerFactory) -> None:  # noqa: F811
    metrics = Metrics(process=False)
    svc = service(metrics)
    server = await make_server({var.CALL_END_SCRIPT: handlers.call_end(svc)})
    cases = [("1", "FAILURE", "1"), ("2", "FAILURE", ""), ("3", "", ""), ("1", "FAILURE", "1")]
    with capture_logs() as logs:
        for uniqueid, main, busy in cases:
            fake = await FakeAsterisk.connect(server.port, report_env(uniqueid, main, busy))
            await fake.expect_eof()
    ends = [(e["call_id"], e["outcome"]) for e in logs if e["event"] == "call.end"]
    # refused at every cap; unreachable; gone before AGI; the same report twice: one line
    assert ends == [("1", "rejected_capacity"), ("2", "error_internal"), ("3", "abandoned")]
    assert sample(metrics, "ivr_calls_total", outcome="rejected_capacity") == 1
    assert sample(metrics, "ivr_rejections_total", reason="capacity") == 0
    assert sample(metrics, "ivr_rejections_total", reason="agi_capacity") == 0  # the server's


async def test_the_flow_s_store_ports_are_timed() -> None:
    metrics = Metrics(process=False)
    directory = TimedDirectory(FakeDirectory(*SUBSCRIBERS), metrics)
    limiter = TimedLimiter(FakeLimiter(), metrics)
    contract = SUBSCRIBERS[0]
    assert await directory.lookup(contract.number) == contract
    assert await directory.find_in_contract(contract.number, "0000000000") is None
    assert await limiter.admit(contract.number)
    await limiter.record_failure(contract.number)
    down = TimedDirectory(FakeDirectory(fail=StoreUnavailable("down")), metrics)
    with pytest.raises(StoreUnavailable):
        await down.lookup(contract.number)
    assert sample(metrics, "ivr_store_seconds_count", operation="directory_lookup") == 3
    assert sample(metrics, "ivr_store_seconds_count", operation="redis_limits") == 2
    assert sample(metrics, "ivr_store_seconds_count", operation="kdf") == 0
