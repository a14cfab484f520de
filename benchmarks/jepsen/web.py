"""The partition test's web site: verifies, in its own netns, passwords callers heard 完了 for.

During the load it follows the FastAGI servers' call logs and verifies, at a rate, the
latest acknowledged password of a random number; at the end (`final`) it verifies, per
number, the candidates the orchestrator hands it (latest acknowledged first, then those
whose fate is unknown) until one is ok. Every answer goes into the history with its times;
a store error is recorded as "error" (no answer). SIGTERM ends the load.

    python -m benchmarks.jepsen.web CONFIG.json
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import TextIO

from benchmarks.jepsen.caller import password_of, stop_on_sigterm
from benchmarks.serve_light_kdf import LightArgon2id
from store.credentials import CredentialStore
from store.pepper import load
from store.redisconn import connect
from store.types import StoreError


class Follower:
    """The latest acknowledged call of each number, from the servers' call logs."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = [Path(p) for p in paths]
        self.offsets = [0] * len(paths)
        self.latest: dict[str, str] = {}

    def poll(self) -> None:
        for i, path in enumerate(self.paths):
            if not path.exists():
                continue
            with path.open() as f:
                f.seek(self.offsets[i])
                chunk = f.read()
            done = chunk[: chunk.rfind("\n") + 1]
            self.offsets[i] += len(done.encode())
            for raw in done.splitlines():
                line = json.loads(raw)
                if line.get("event") == "call.end" and line.get("outcome") == "set":
                    self.latest[line["caller"]] = line["call_id"]


async def _verify(store: CredentialStore, seed: bytes, number: str, call_id: str) -> dict:
    rec = {"event": "verify", "number": number, "call_id": call_id, "t_start": time.time()}
    try:
        rec["answer"] = (await store.verify(number, password_of(seed, call_id))).value
    except StoreError:
        rec["answer"] = "error"
    rec["t_end"] = time.time()
    return rec


async def _run(cfg: dict, seed: bytes, password: str, pepper: bytes, out: TextIO) -> None:
    redis = connect(cfg["redis_url"], password=password, timeout_s=2.0)
    store = CredentialStore(redis, pepper, kdf=LightArgon2id(), replicas=1,
                            replica_timeout_ms=1000)  # fmt: skip
    try:
        if cfg.get("final"):
            for number, candidates in cfg["final"].items():
                for call_id in candidates:
                    rec = await _verify(store, seed, number, call_id)
                    out.write(json.dumps({**rec, "final": True}) + "\n")
                    if rec["answer"] == "ok":
                        break
            return
        follower, rng = Follower(cfg["calls_logs"]), random.Random(1)
        stopped, k, start = stop_on_sigterm(), 0, time.time()
        while not stopped.is_set():
            await asyncio.to_thread(follower.poll)
            if follower.latest:
                number = rng.choice(sorted(follower.latest))
                rec = await _verify(store, seed, number, follower.latest[number])
                out.write(json.dumps(rec) + "\n")
            k += 1
            with contextlib.suppress(TimeoutError):
                pause = max(0.0, start + k / cfg["rate"] - time.time())
                await asyncio.wait_for(stopped.wait(), pause)
    finally:
        await redis.aclose()


def main(cfg: dict) -> None:
    seed = Path(cfg["seed_file"]).read_bytes()
    password = Path(cfg["redis_password_file"]).read_text().strip()
    pepper = load(Path(cfg["pepper_file"]))
    with open(cfg["out"], "a", buffering=1) as out:  # one line per verify
        asyncio.run(_run(cfg, seed, password, pepper, out))


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
