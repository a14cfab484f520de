"""Store and directory benchmarks: `python -m benchmarks.bench_store [--redis URL]`.

Measures, in one run (ratios matter more than absolute times on shared machines):
importing a 10,000-number contract into SQLite (and PostgreSQL when reachable); the bare
key derivation at the default Argon2id cost;
a temporary-password set, a verify of a live password and a verify of a number without
one (the dummy derivation), medians of 20; and 50 concurrent wrong verifies against one
number (must end with exactly 3 failures counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.pgtemp import temporary_database
from store import keys
from store.credentials import CredentialStore
from store.db import make_engine
from store.importer import import_csv
from store.kdf import Argon2idParams, derive, new_salt
from store.migrations import migrate
from store.redisconn import connect
from store.types import Unit, VerifyOutcome

CONTRACT = "0612300000"


def _csv(path: Path, n: int) -> None:
    rows = ["contract_number,number,region,active", f"{CONTRACT},{CONTRACT},west,1"]
    rows += [f"{CONTRACT},06{40000000 + i:08d},west,1" for i in range(n - 1)]
    path.write_text("\n".join(rows) + "\n")


def bench_import(url: str, csv: Path) -> tuple[float, float]:
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    import_csv(engine, csv)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    import_csv(engine, csv)  # idempotent re-import
    again = time.perf_counter() - t0
    engine.dispose()
    return first, again


def bench_kdf(runs: int = 20) -> dict[str, float]:
    pepper, salt = secrets.token_bytes(32), new_salt()
    found = {}
    for name, params in ("argon2id_default", Argon2idParams()):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            derive("58291746", salt, pepper, params)
            times.append(time.perf_counter() - t0)
        found[f"derive_{name}_median_ms"] = statistics.median(times) * 1000
    return found


async def bench_store(redis_url: str) -> dict[str, float]:
    redis = connect(redis_url)
    store = CredentialStore(redis, secrets.token_bytes(32))
    number = f"09{secrets.randbelow(10**8):08d}"
    absent = f"09{secrets.randbelow(10**8):08d}"
    sets, oks, nones = [], [], []
    for _ in range(20):
        t0 = time.perf_counter()
        await store.set_temporary(
            number,
            "58291746",
            unit=Unit.LINE,
            contract_number=number,
            set_by=number,
            call_id="bench",
        )
        sets.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert await store.verify(number, "58291746") is VerifyOutcome.OK
        oks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert await store.verify(absent, "58291746") is VerifyOutcome.NONE
        nones.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(store.verify(number, "00000000") for _ in range(50)))
    burst = time.perf_counter() - t0
    shown = await store.show(number)
    assert shown is not None and shown.failures == 3, shown
    assert outcomes.count(VerifyOutcome.WRONG) == 2, outcomes
    await store.clear(number, operator="bench")
    await redis.delete(keys.audit(absent), keys.audit(number))
    await redis.aclose()
    return {
        "set_median_ms": statistics.median(sets) * 1000,
        "verify_ok_median_ms": statistics.median(oks) * 1000,
        "verify_none_median_ms": statistics.median(nones) * 1000,
        "50_wrong_verifies_s": burst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--redis", default=os.environ.get("IVR_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "contract.csv"
        _csv(csv, 10_000)
        first, again = bench_import(f"sqlite:///{tmp}/bench.db", csv)
        print(f"import 10,000 numbers, SQLite: {first:.2f} s (re-import {again:.2f} s)")
        try:
            with temporary_database(args.postgres) as url:
                first, again = bench_import(url, csv)
            print(f"import 10,000 numbers, PostgreSQL: {first:.2f} s (re-import {again:.2f} s)")
        except Exception as exc:  # noqa: BLE001 (benchmark: report and go on)
            print(f"PostgreSQL not measured: {type(exc).__name__}")
    for name, value in bench_kdf().items():
        print(f"{name}: {value:.1f}")
    for name, value in asyncio.run(bench_store(args.redis)).items():
        print(f"{name}: {value:.1f}")


if __name__ == "__main__":
    main()
