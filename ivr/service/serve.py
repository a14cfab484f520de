"""The FastAGI server process: wires the call flow to Asterisk, Redis and the directory.

Also serves /metrics and /healthz, reopens the call log on SIGHUP (logrotate), and logs
errors outside any call as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import signal
import sys
from typing import Any

import structlog
import uvloop
from prometheus_client import Gauge
from sqlalchemy.exc import SQLAlchemyError

from agi.server import AgiServer, Registry
from ivr.config import variables as var
from ivr.config.secret_files import read_or_create
from ivr.config.settings import Settings
from ivr.flow.calllog import CALL_STRIKE, CallStrike
from ivr.service import handlers
from ivr.service.admission import Admission
from ivr.service.kdf_pool import low_priority_pool
from ivr.service.logsink import configure_logging, reopen_on_sighup
from ivr.service.metrics import Metrics
from ivr.service.metrics_http import MetricsServer
from ivr.service.timed import TimedDirectory, TimedLimiter
from store.credentials import CredentialStore
from store.directory import AsyncDirectory, Directory, migrate
from store.limits import CallLimiter
from store.pepper import load
from store.redisconn import connect
from store.types import StoreError

SCRIPT = "tmp-password"
# The server's own backstop sits above the flow's maximum call duration.
BACKSTOP_MARGIN_S = 60.0


def _strikes_to_metrics(metrics: Metrics):
    """A structlog processor: each call.strike line also counts in ivr_strikes_total."""

    def processor(_logger: Any, _method: str, event: Any) -> Any:
        if event.get("event") == CALL_STRIKE:
            strike = CallStrike.from_record(event)
            metrics.strike(strike.step, strike.reason)
        return event

    return processor


async def serve(settings: Settings, *, stdout: bool = True) -> None:
    metrics = Metrics()
    sink = configure_logging(
        settings.calls_log, stdout=stdout, extra=[_strikes_to_metrics(metrics)]
    )
    redis = connect(settings.redis_url, password=settings.redis_password())
    migrate(settings.database_url)  # a deployment's first start (compose, systemd) makes the schema
    directory = Directory.from_url(settings.database_url)
    admission = Admission(
        settings.max_calls, max_rate=settings.max_calls_per_s, burst=settings.max_calls_burst
    )
    service = handlers.Service(
        directory=TimedDirectory(AsyncDirectory(directory), metrics),
        store=CredentialStore(
            redis,
            load(settings.pepper_file),
            replicas=settings.redis_replicas,
            replica_timeout_ms=settings.redis_replica_timeout_ms,
            timer=metrics.time_store,
            executor=low_priority_pool(),
        ),
        limiter=TimedLimiter(CallLimiter(redis, settings.limits), metrics),
        timing=settings.timing,
        admission=admission,
        metrics=metrics,
        early_media=settings.early_media,
    )
    registry = Registry()
    registry.register(SCRIPT, handlers.tmp_password(service))
    registry.register(var.CALL_END_SCRIPT, handlers.call_end(service))
    server = AgiServer(
        registry,
        settings.agi_host,
        settings.agi_port,
        command_timeout_s=settings.agi_command_s,
        max_call_s=settings.timing.max_call_s + BACKSTOP_MARGIN_S,
        failure_variable=(var.OUTCOME, var.OUTCOME_ERROR),
        allow=settings.agi_allow,
        secret=read_or_create(settings.agi_secret_path),
        max_calls=settings.agi_max_calls,
        uncapped=(var.CALL_END_SCRIPT,),  # the report keeps one call.end per call
        busy_variable=(var.AGI_BUSY, "1"),
        on_refused=metrics.connection_refused,
    )
    http = MetricsServer(metrics.registry, settings.metrics_host, settings.metrics_port)
    http.add_check("redis", redis.ping)
    http.add_check("directory", lambda: asyncio.to_thread(directory.ping))
    http.add_check("agi_listener", lambda: _true(server.listening))
    Gauge(
        "ivr_event_loop_lag_seconds", "Worst lag of the event loop's 0.1 s tick over 10 s",
        registry=metrics.registry,
    ).set_function(lambda: max(admission.recent_lags, default=0.0))  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reopen_on_sighup(loop, sink)
    lag = asyncio.create_task(admission.watch_lag())
    # What start-up made lives as long as the process: out of the collector's way, so a
    # full collection walks the calls' objects only (a pause there is a caller's lost key).
    gc.freeze()
    try:
        await server.start()
        await http.start()
        structlog.get_logger().info("metrics.listening", host=http.host, port=http.port)
        await stop.wait()
        # SIGTERM: drain. New calls go to the next server; the live ones end on their own,
        # within the longest a call may last (then the backstop cancels what is left).
        http.draining = f"stopping: {server.active_calls} calls to finish"
        await server.close(drain_s=server.max_call_s)
    finally:
        lag.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lag
        await http.close()
        await server.close()
        await redis.aclose()
        directory.close()
        structlog.get_logger().info("agi.stopped")
        sink.close()


async def _true(value: bool) -> bool:
    return value


def _log_loop_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors outside any call (e.g. accept() at the open-file limit) as JSON, not tracebacks."""
    exc = context.get("exception")
    structlog.get_logger().error(
        "agi.loop_error",
        message=str(context.get("message", "")),
        error=type(exc).__name__ if exc is not None else None,
    )


def _open_files_up_to_the_hard_limit() -> None:
    """Each call holds a socket or two: the soft limit (often 1,024) would refuse calls long
    before IVR_AGI_MAX_CALLS does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    """`--quiet`: the call log goes to its file only (the stack's own runs: no second copy)."""
    args = sys.argv[1:] if argv is None else argv
    os.umask(0o077)  # logs and anything else this process creates: owner only
    _open_files_up_to_the_hard_limit()
    try:
        # uvloop: the same asyncio API with a libuv loop, about a sixth less CPU per call
        # (docs/benchmarks.md); every await, timeout and signal handler works unchanged.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(Settings.from_env(), stdout="--quiet" not in args))
    except (OSError, ValueError, StoreError, SQLAlchemyError) as exc:  # port, setting, secret, db
        print(f"ivrctl serve: {exc}", file=sys.stderr)
        return 2
    return 0


def command(_args: object) -> int:
    """`ivrctl serve`: in the foreground, the call log on stdout too."""
    return main([])


if __name__ == "__main__":
    raise SystemExit(main())
