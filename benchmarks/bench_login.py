"""Login service throughput: `python -m benchmarks.bench_login [--seconds 10]`.

Starts a private Redis and the real service (`python -m login`, uvicorn) pinned with
`taskset` to 1 core, then to 2 cores, and drives it with closed-loop HTTP clients (2 per
core: one derivation waiting while another runs) logging in with real passwords (`ok`,
the path every subscriber takes). Reports logins per second, p50/p99 latency and the
service's CPU per login (from /proc), hence logins per second per core. The clients run in
this process, unpinned: on a 2-core machine they share the cores with the service, so the
2-core row is a floor. Limits are lifted for the run (one client, few numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from ivr.app.stack import durable_redis_argv

from benchmarks.ports import free_port
from login.auth import add_client
from store.accounts import AccountStore
from store.redisconn import connect
from store.types import Unit

NUMBERS = [f"069008{i:04d}" for i in range(32)]  # the reserved test range
TEMPORARY, REAL = "35792468", "Bn4kW8qZt2"
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _wait(url: str, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the login service exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # a server starting: no other readiness signal
    raise TimeoutError(url)


async def _accounts(redis_url: str, pepper: bytes) -> None:
    redis = connect(redis_url)
    store = AccountStore(redis, pepper)
    for n in NUMBERS:
        await store.set_temporary(n, TEMPORARY, unit=Unit.LINE, contract_number=n,
                                  set_by=n, call_id="bench")  # fmt: skip
        assert (await store.change(n, TEMPORARY, REAL)).outcome == "changed"
    await redis.aclose()


async def _drive(url: str, token: str, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as c:  # fmt: skip

        async def one(worker: int) -> None:
            i = worker
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = await c.post("/v1/login", json={"number": NUMBERS[i % len(NUMBERS)],
                                                    "password": REAL})  # fmt: skip
                assert r.status_code == 200 and r.json()["outcome"] == "ok", r.text
                latencies.append(time.perf_counter() - t0)
                i += clients

        await asyncio.gather(*(one(w) for w in range(clients)))
    return latencies


def run(cores: str, seconds: float, work: Path, redis_url: str, token: str) -> dict:
    port = free_port()
    env = {**os.environ, "IVR_STATE_DIR": str(work), "IVR_REDIS_URL": redis_url,
           "IVR_API_TOKENS_FILE": str(work / "api-tokens"), "IVR_API_PORT": str(port),
           "IVR_PEPPER_FILE": str(work / "pepper"), "IVR_API_CLIENT_RATE": "0",
           "IVR_API_NUMBER_BURST": "1000000",
           "IVR_DATABASE_URL": f"sqlite:///{work}/ivr.db"}  # fmt: skip
    argv = ["taskset", "-c", cores, sys.executable, "-m", "login", "--quiet"]
    with open(work / f"api-{cores}.out", "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/healthz", proc)
        n_cores = len(cores.split(","))
        clients = 2 * n_cores
        asyncio.run(_drive(url, token, clients, 2.0))  # warm-up
        cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
        lat = sorted(asyncio.run(_drive(url, token, clients, seconds)))
        cpu, wall = _cpu_s(proc.pid) - cpu0, time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    cpu_ms = 1000 * cpu / len(lat)
    return {"cores": n_cores, "clients": clients, "logins": len(lat),
            "per_s": len(lat) / wall, "p50_ms": 1000 * lat[len(lat) // 2],
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "cpu_ms_per_login": cpu_ms, "per_s_per_core": 1000 / cpu_ms}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not shutil.which("taskset"):
        raise SystemExit("taskset (util-linux) is needed")
    with tempfile.TemporaryDirectory(prefix="bench-login-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        pepper = os.urandom(32)
        fd = os.open(work / "pepper", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, pepper)
        os.close(fd)
        token = add_client(work / "api-tokens", "bench", frozenset({"site"}))
        redis_port = free_port()
        (work / "redis").mkdir()
        redis = subprocess.Popen(durable_redis_argv(redis_port, work / "redis"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            deadline = time.monotonic() + 20
            while subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                 capture_output=True).returncode != 0:  # fmt: skip
                if time.monotonic() > deadline:
                    raise TimeoutError("redis")
                time.sleep(0.05)
            asyncio.run(_accounts(redis_url, pepper))
            rows = [run(cores, args.seconds, work, redis_url, token) for cores in ("0", "0,1")]
        finally:
            redis.terminate()
            redis.wait(timeout=15)
    print(f"{'cores':>5} {'clients':>7} {'logins':>6} {'per s':>6} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'CPU ms/login':>12} {'per s per core':>14}")  # fmt: skip
    for r in rows:
        print(f"{r['cores']:>5} {r['clients']:>7} {r['logins']:>6} {r['per_s']:>6.1f}"
              f" {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['cpu_ms_per_login']:>12.1f}"
              f" {r['per_s_per_core']:>14.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
