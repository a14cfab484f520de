"""`/metrics` and `/healthz` over HTTP/1.1, inside the FastAGI server's event loop.

A small asyncio responder instead of prometheus_client's threaded server: the health
checks are coroutines (Redis PING, the directory, the AGI listener) that must run on the
server's own loop, and aiohttp is not worth a dependency for two GET paths.
`/healthz` answers 200 only when every registered check passes within its timeout, else
503 with one line of JSON naming the first failing check and the exception's type (never
its message, which could carry a URL with a password).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthCheck = Callable[[], Awaitable[object]]
READ_TIMEOUT_S = 5.0
MAX_REQUEST = 8192
CHECK_TIMEOUT_S = 2.0


@dataclass
class MetricsServer:
    registry: CollectorRegistry
    host: str = "127.0.0.1"
    port: int = 9464
    checks: dict[str, tuple[HealthCheck, float]] = field(default_factory=dict)
    draining: str | None = None  # why the server is going away: /healthz 503 says so
    _server: asyncio.Server | None = None

    def add_check(self, name: str, check: HealthCheck, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        """A coroutine that returns when the part is well and raises (or hangs) when not.
        A check may return False to say "not well" without raising."""
        if name in self.checks:
            raise ValueError(f"health check {name!r} registered twice")
        self.checks[name] = (check, timeout_s)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_REQUEST
        )
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when port was 0

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def health(self) -> tuple[int, dict[str, str]]:
        if self.draining is not None:  # a balancer stops sending; the live calls go on
            return 503, {"status": "draining", "reason": self.draining}
        results = await asyncio.gather(
            *(self._run_check(name, check, t) for name, (check, t) in self.checks.items())
        )
        for failure in results:
            if failure is not None:
                return 503, failure
        return 200, {"status": "ok"}

    @staticmethod
    async def _run_check(name: str, check: HealthCheck, timeout_s: float) -> dict | None:
        try:
            ok = await asyncio.wait_for(check(), timeout_s)
        except TimeoutError:
            return {"status": "fail", "check": name, "reason": f"no answer in {timeout_s:g}s"}
        except Exception as exc:  # noqa: BLE001  (any failure of the part is "not well")
            return {"status": "fail", "check": name, "reason": type(exc).__name__}
        if ok is False:
            return {"status": "fail", "check": name, "reason": "check returned false"}
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            method, target = _request_line(head)
            status, ctype, body = await self._respond(method, target)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, ctype, body = 400, "text/plain", b"bad request\n"
        try:
            writer.write(_response(status, ctype, body, head_only=method == "HEAD"))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _respond(self, method: str, target: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        path = target.split("?", 1)[0]
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/healthz":
            status, doc = await self.health()
            return status, "application/json", json.dumps(doc).encode() + b"\n"
        return 404, "text/plain", b"not found: try /metrics or /healthz\n"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


def _request_line(head: bytes) -> tuple[str, str]:
    parts = head.split(b"\r\n", 1)[0].decode("ascii").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("bad request line")
    return parts[0], parts[1]


def _response(status: int, ctype: str, body: bytes, *, head_only: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + (b"" if head_only else body)
