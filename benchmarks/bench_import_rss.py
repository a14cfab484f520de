"""Peak memory of a large import: `python -m benchmarks.bench_import_rss [--rows N]`.

Writes a CSV of N rows (default 1,000,000: contracts of 10 numbers, contract line
first), then imports it in a fresh child process per database (SQLite, and PostgreSQL
when reachable) and prints the child's peak RSS (`VmHWM`) and wall time. The import
runs in a child so the figure is the importer's own, not this harness's.
`--pythonpath DIR` runs the child against another copy of `store/` (e.g. an older commit
extracted with `git archive COMMIT store | tar -x -C DIR`) for before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.pgtemp import temporary_database
from store.migrations import migrate

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from store.db import make_engine
from store.importer import import_csv
engine = make_engine(sys.argv[1])
started = time.perf_counter()
result = import_csv(engine, Path(sys.argv[2]))
elapsed = time.perf_counter() - started
# VmHWM is this program's own peak; ru_maxrss also counts the parent copy forked before exec
status = Path("/proc/self/status")
lines = status.read_text().splitlines() if status.exists() else []
hwm = [line for line in lines if line.startswith("VmHWM:")]
peak_kib = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"numbers": result.numbers, "s": elapsed, "peak_mib": peak_kib / 1024}))
"""


def write_csv(path: Path, rows: int, per_contract: int = 10) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("contract_number,number,region,active\n")
        for i in range(rows):
            contract = 5_000_000_000 + (i // per_contract) * per_contract
            out.write(f"0{contract},0{5_000_000_000 + i},east,1\n")


def run_child(url: str, csv: Path, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, root) if p)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, str(csv)],
        env=env,
        cwd=pythonpath or root,  # `-c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "Error" in line]
        raise RuntimeError((lines or done.stderr.strip().splitlines() or ["?"])[-1][:300])
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pythonpath", help="a directory holding the store/ to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        write_csv(csv, args.rows)
        size_mib = csv.stat().st_size / 2**20
        print(f"{args.rows:,} rows, file {size_mib:.0f} MiB")
        sqlite_url = f"sqlite:///{tmp}/bench.db"
        migrate(sqlite_url)
        got = run_child(sqlite_url, csv, args.pythonpath)
        print(f"SQLite: peak RSS {got['peak_mib']:.0f} MiB, {got['s']:.1f} s")
        try:
            with temporary_database(args.postgres) as url:
                migrate(url)
                got = run_child(url, csv, args.pythonpath)
            print(f"PostgreSQL: peak RSS {got['peak_mib']:.0f} MiB, {got['s']:.1f} s")
        except Exception as exc:  # noqa: BLE001 (benchmark: report and go on)
            print(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
