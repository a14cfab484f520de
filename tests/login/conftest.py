"""A real login service for the API tests: `python -m login` (uvicorn) on a free port, over a
private durable Redis, a pepper and a tokens file of its own, and a SQLite directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from login.auth import add_client
from store.db import make_engine
from store.migrations import migrate
from store.models import SubscriberRow
from tests.stackutil import REPO, free_port
from tests.store.servers import RedisServer, wait_until

PEPPER = bytes(range(100, 132))
# Directory entries the tests log in as: a West contract of two numbers, one East line.
WEST_LINE, WEST_EXTRA, EAST_LINE = "0664808001", "0664808002", "0363048001"
SUBSCRIBERS = [
    (WEST_LINE, WEST_LINE, "west"),
    (WEST_EXTRA, WEST_LINE, "west"),
    (EAST_LINE, EAST_LINE, "east"),
]


def private_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


@dataclass
class Api:
    url: str
    redis_url: str
    tokens: dict[str, str]  # client id -> token
    log: Path
    proc: subprocess.Popen[bytes]

    def headers(self, client: str = "site") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[client]}"}

    def client(self, who: str | None = "site") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(who) if who else {}, timeout=30)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def start_api(tmp: Path, redis_url: str, **env: str) -> Api:
    """The service with clients site, flood (site) and operator; returns once /healthz is ok."""
    tmp.mkdir(parents=True, exist_ok=True)
    tokens_file = tmp / "api-tokens"
    tokens = {
        who: add_client(tokens_file, who, frozenset({scope}))
        for who, scope in (("site", "site"), ("flood", "site"), ("operator", "operator"))
    }
    db = f"sqlite:///{tmp / 'ivr.db'}"
    migrate(db)
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(
            insert(SubscriberRow),
            [{"number": n, "contract_number": c, "region": r} for n, c, r in SUBSCRIBERS],
        )
    engine.dispose()
    port = free_port()
    full_env = {
        **os.environ,
        "IVR_STATE_DIR": str(tmp),
        "IVR_REDIS_URL": redis_url,
        "IVR_PEPPER_FILE": str(private_file(tmp / "pepper", PEPPER)),
        "IVR_API_TOKENS_FILE": str(tokens_file),
        "IVR_DATABASE_URL": db,
        "IVR_API_PORT": str(port),
        **env,
    }
    log = tmp / "api.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "login", "--quiet"],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    api = Api(f"http://127.0.0.1:{port}", redis_url, tokens, log, proc)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"login service exited:\n{log.read_text()}")
        try:
            return httpx.get(f"{api.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, what="the login service")
    return api


def stop_api(api: Api) -> None:
    api.proc.terminate()
    try:
        api.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        api.proc.kill()
        api.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    redis = RedisServer(tmp_path_factory.mktemp("api-redis"))
    redis.start()
    try:
        # a few more attempts per number than the default 5: each test walks a whole journey
        service = start_api(tmp_path_factory.mktemp("api"), redis.url, IVR_API_NUMBER_BURST="8")
        try:
            yield service
        finally:
            stop_api(service)
    finally:
        redis.stop()


def set_temporary(api: Api, number: str, password: str, contract: str | None = None) -> None:
    """What a finished dial-in leaves in the store (the IVR's own call, without the call)."""
    import asyncio  # noqa: PLC0415

    from store.credentials import CredentialStore  # noqa: PLC0415
    from store.redisconn import connect  # noqa: PLC0415
    from store.types import Unit  # noqa: PLC0415

    async def main() -> None:
        redis = connect(api.redis_url)
        try:
            await CredentialStore(redis, PEPPER).set_temporary(
                number, password, unit=Unit.LINE, contract_number=contract or number,
                set_by=number, call_id="test",
            )  # fmt: skip
        finally:
            await redis.aclose()

    asyncio.run(main())
