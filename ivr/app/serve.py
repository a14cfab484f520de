"""The FastAGI server process: wires the call flow to Asterisk, Redis and the directory."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import structlog

from agi.server import AgiCall, AgiServer, Registry
from ivr import dialplan_variables as var
from ivr.agi_channel import AgiChannel
from ivr.app.secret_files import read_or_create
from ivr.app.settings import Settings
from ivr.flow.call import run_call
from ivr.flow.calllog import configure_logging, log_call_end
from ivr.flow.outcomes import CallInfo
from store.credentials import CredentialStore
from store.directory import AsyncDirectory, Directory
from store.limits import CallLimiter
from store.pepper import load
from store.redisconn import connect
from store.types import StoreError

SCRIPT = "tmp-password"
# The server's own backstop sits above the flow's maximum call duration.
BACKSTOP_MARGIN_S = 60.0


def tmp_password_handler(
    settings: Settings, store: CredentialStore, limiter: CallLimiter, directory: AsyncDirectory
):
    async def handle(call: AgiCall) -> None:
        info = CallInfo(
            call_id=call.env.uniqueid or "",
            caller_raw=call.env.callerid,
            did=call.env.extension or "",
        )
        result = await run_call(info, AgiChannel(call), directory, store, limiter, settings.timing)
        log_call_end(info, result, result.duration_ms)

    return handle


async def serve(settings: Settings) -> None:
    sink = configure_logging(settings.calls_log)
    redis = connect(settings.redis_url, password=settings.redis_password())
    directory = Directory.from_url(settings.database_url)
    registry = Registry()
    registry.register(
        SCRIPT,
        tmp_password_handler(
            settings,
            CredentialStore(redis, load(settings.pepper_file)),
            CallLimiter(redis, settings.limits),
            AsyncDirectory(directory),
        ),
    )
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
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.close()
        await redis.aclose()
        directory.close()
        structlog.get_logger().info("agi.stopped")
        sink.close()


def _log_loop_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors outside any call (e.g. accept() at the open-file limit) as JSON, not tracebacks."""
    exc = context.get("exception")
    structlog.get_logger().error(
        "agi.loop_error",
        message=str(context.get("message", "")),
        error=type(exc).__name__ if exc is not None else None,
    )


def main() -> int:
    os.umask(0o077)  # logs and anything else this process creates: owner only
    try:
        asyncio.run(serve(Settings.from_env()))
    except (OSError, ValueError, StoreError) as exc:  # busy port, bad setting or secret file
        print(f"ivrctl serve: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
