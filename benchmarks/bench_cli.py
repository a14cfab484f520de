"""`ivrctl` start-up: CPU (user+sys) of `--help`, `tpw --help` and `tpw verify`, median of N.

An operator's command must start at once, and 50 concurrent `ivrctl tpw verify` must not
queue behind imports. Each run is a fresh process against a private Redis on a free port
(stopped by pid); `tpw verify` of a number with no password still derives once (equal
work), so its figure is start-up plus one derivation, measured apart in this process.

    .venv/bin/python -m benchmarks.bench_cli [--runs 5] [--tree DIR --module ivr.app.cli]

``--tree``/``--module`` run another checkout (e.g. the commit before the split) the same way.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgen.ports import free_port
from store.kdf import Argon2idParams, derive, new_salt

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("--help",), ("tpw", "--help"), ("tpw", "verify", "0690000001", "24681357"))


def _cpu(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU seconds (user+sys) of one child process, from wait4's rusage."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime


def _derivation_s() -> float:
    before = resource.getrusage(resource.RUSAGE_SELF)
    derive("24681357", new_salt(), secrets.token_bytes(32), Argon2idParams())
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--tree", type=Path, default=ROOT)
    p.add_argument("--module", default="ivr.cli")
    args = p.parse_args(argv)
    port = free_port()
    redis = subprocess.Popen(
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pepper = Path(tmp) / "pepper"
            fd = os.open(pepper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, secrets.token_bytes(32))
            os.close(fd)
            env = {
                **os.environ,
                "PYTHONPATH": str(args.tree),
                "IVR_STATE_DIR": tmp,
                "IVR_PEPPER_FILE": str(pepper),
                "IVR_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            }
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, timeout=5
                ).stdout.strip()
                != b"PONG"
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)  # redis-server gives no other readiness signal
            code = f"import sys; from {args.module} import main; sys.exit(main())"
            print(f"tree {args.tree} ({args.module}), median of {args.runs} runs, CPU s")
            for command in COMMANDS:
                runs = [
                    _cpu([sys.executable, "-c", code, *command], env, args.tree)
                    for _ in range(args.runs)
                ]
                print(f"  ivrctl {' '.join(command[:2]):<14} {statistics.median(runs):.3f}")
            kdf = statistics.median(_derivation_s() for _ in range(args.runs))
            print(f"  one derivation        {kdf:.3f} (in this process)")
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
