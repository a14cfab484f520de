"""Metrics: exact names, closed label sets, the HTTP endpoint, and promtool's lint."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ivr.config.settings import Settings
from ivr.flow.entries import Strike
from ivr.flow.outcomes import Outcome, Step
from ivr.service import labels
from ivr.service.metrics import Metrics
from ivr.service.metrics_http import MetricsServer


def sample(m: Metrics, name: str, **lbl: str) -> float:
    value = m.registry.get_sample_value(name, lbl or None)
    assert value is not None, f"no sample {name}{lbl}"
    return value


def test_closed_sets_match_the_flow() -> None:
    assert {str(o) for o in Outcome} == set(labels.OUTCOMES)
    assert "rejected_capacity" in labels.OUTCOMES  # interfaces.md
    assert tuple(str(s) for s in Step) == labels.STEPS
    assert tuple(str(s) for s in Strike) == labels.STRIKE_REASONS


def test_counters_and_gauges_count() -> None:
    m = Metrics()
    m.observe_call_end(Outcome.SET)
    m.observe_call_end("set")
    m.observe_call_end("error_store")
    m.strike(Step.PASSWORD, Strike.MISMATCH)
    m.rejection("anonymous")
    with m.call_in_progress():
        with m.call_in_progress():
            assert sample(m, "ivr_calls_in_progress") == 2
    assert sample(m, "ivr_calls_in_progress") == 0
    assert sample(m, "ivr_calls_total", outcome="set") == 2
    assert sample(m, "ivr_calls_total", outcome="error_store") == 1
    assert sample(m, "ivr_calls_total", outcome="abandoned") == 0  # exists before its first
    assert sample(m, "ivr_strikes_total", step="password", reason="mismatch") == 1
    assert sample(m, "ivr_rejections_total", reason="anonymous") == 1
    assert Metrics().registry.get_sample_value("ivr_calls_total", {"outcome": "set"}) == 0


def test_refused_connections_count_by_their_reason() -> None:
    m = Metrics(process=False)
    for reason in ("address", "secret", "capacity", "capacity"):
        m.connection_refused(reason)
    assert sample(m, "ivr_rejections_total", reason="address_not_allowed") == 1
    assert sample(m, "ivr_rejections_total", reason="wrong_secret") == 1
    assert sample(m, "ivr_rejections_total", reason="agi_capacity") == 2
    assert sample(m, "ivr_rejections_total", reason="capacity") == 0  # the flow's own cap
    assert set(labels.CONNECTION_REFUSALS.values()) <= set(labels.REJECTION_REASONS)


def test_histograms_time_the_kdf_apart_from_redis() -> None:
    m = Metrics()
    with m.time_store("kdf"):
        sum(range(10000))
    with m.time_store("redis_set"):
        pass
    with m.time_agi_command():
        pass
    assert sample(m, "ivr_store_seconds_count", operation="kdf") == 1
    assert sample(m, "ivr_store_seconds_count", operation="redis_set") == 1
    assert sample(m, "ivr_store_seconds_count", operation="directory_lookup") == 0
    assert sample(m, "ivr_store_seconds_sum", operation="kdf") > 0
    assert sample(m, "ivr_agi_command_seconds_count") == 1
    with pytest.raises(ValueError), m.time_store("0664806000"):
        pass


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.observe_call_end("0664806000"),
        lambda m: m.observe_call_end("set1"),
        lambda m: m.strike("password", "48151623"),
        lambda m: m.strike("0664806001", "mismatch"),
        lambda m: m.rejection("rate_limited 0664806000"),
        lambda m: m.time_store("redis_set:0664806000").__enter__(),
    ],
)
def test_a_label_outside_the_closed_set_is_refused(call) -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="closed set"):
        call(m)
    assert b"0664806" not in generate_latest(m.registry)
    assert b"48151623" not in generate_latest(m.registry)


def test_no_label_value_holds_a_digit() -> None:
    """Every series that can exist: all closed-set values exercised, then the exposition."""
    m = Metrics()
    for o in labels.OUTCOMES:
        m.observe_call_end(o)
    for r in labels.REJECTION_REASONS:
        m.rejection(r)
    for op in labels.STORE_OPERATIONS:
        with m.time_store(op):
            pass
    text = generate_latest(m.registry).decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"ivr_calls", "ivr_calls_in_progress", "ivr_strikes", "ivr_rejections"} <= names
    assert {"ivr_agi_command_seconds", "ivr_store_seconds", "process_cpu_seconds"} <= names
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            for key, value in s.labels.items():
                if key != "le":  # histogram bucket bounds are numbers by definition
                    assert not re.search(r"\d", value), f"{s.name}{{{key}={value!r}}}"


def test_promtool_check_metrics_passes_on_our_exposition() -> None:
    m = Metrics()
    m.observe_call_end("set")
    m.strike("menu", "invalid_key")
    with m.time_agi_command(), m.time_store("kdf"):
        pass
    out = subprocess.run(
        ["promtool", "check", "metrics"],
        input=generate_latest(m.registry),
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == b"", out.stdout  # no lint finding at all
    bad = subprocess.run(
        ["promtool", "check", "metrics"], input=b"ivr_calls 1\n", capture_output=True
    )
    assert bad.returncode != 0  # the linter does find things: a counter without _total


async def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_http_metrics_and_health() -> None:
    m = Metrics()
    m.observe_call_end("timeout_call")
    server = MetricsServer(m.registry, port=0)
    state = {"redis": True}

    async def redis_ping() -> bool:
        return state["redis"]

    async def directory() -> None:
        return None

    server.add_check("redis", redis_ping)
    server.add_check("directory", directory)
    await server.start()
    try:
        status, body = await get(server.port, "/metrics")
        assert status == 200
        assert b'ivr_calls_total{outcome="timeout_call"} 1.0' in body
        assert await get(server.port, "/healthz") == (200, b'{"status": "ok"}\n')
        state["redis"] = False
        status, body = await get(server.port, "/healthz")
        assert status == 503
        assert json.loads(body) == {
            "status": "fail",
            "check": "redis",
            "reason": "check returned false",
        }
        assert body.count(b"\n") == 1
        assert (await get(server.port, "/nope"))[0] == 404
        assert (await get(server.port, "/metrics", "POST"))[0] == 405
        assert await get(server.port, "/metrics", "HEAD") == (200, b"")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"garbage\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 400 ")
        writer.close()
    finally:
        await server.close()


async def test_health_check_failures_and_timeouts_are_reported_by_name() -> None:
    server = MetricsServer(Metrics(process=False).registry, port=0)

    async def hangs() -> None:
        await asyncio.sleep(3600)

    async def raises() -> None:
        raise ConnectionRefusedError("redis://:hunter2@127.0.0.1:6380 refused")

    server.add_check("agi_listener", hangs, timeout_s=0.2)
    assert await server.health() == (
        503,
        {"status": "fail", "check": "agi_listener", "reason": "no answer in 0.2s"},
    )
    server.checks.clear()
    server.add_check("redis", raises)
    status, doc = await server.health()
    assert (status, doc["reason"]) == (503, "ConnectionRefusedError")
    assert "hunter2" not in json.dumps(doc)  # the message may hold a URL with a password
    with pytest.raises(ValueError, match="twice"):
        server.add_check("redis", raises)


def test_metrics_address_from_settings() -> None:
    s = Settings.from_env({})
    assert (s.metrics_host, s.metrics_port) == ("127.0.0.1", 9464)
    s = Settings.from_env({"IVR_METRICS_HOST": "0.0.0.0", "IVR_METRICS_PORT": "9500"})
    assert (s.metrics_host, s.metrics_port) == ("0.0.0.0", 9500)
    with pytest.raises(ValueError, match="IVR_METRICS_PORT must be an integer"):
        Settings.from_env({"IVR_METRICS_PORT": "http"})


async def test_store_work_abandoned_is_not_a_duration_but_a_failure_is() -> None:
    m = Metrics(process=False)

    async def derive() -> None:
        with m.time_store("kdf"):
            await asyncio.Event().wait()  # until cancelled: a mismatch, a hang-up

    task = asyncio.ensure_future(derive())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ConnectionError), m.time_store("redis_set"):
        raise ConnectionError("redis down")
    assert sample(m, "ivr_store_seconds_count", operation="kdf") == 0
    assert sample(m, "ivr_store_seconds_count", operation="redis_set") == 1
