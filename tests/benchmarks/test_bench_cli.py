"""The CLI start-up benchmark runs and reports each command (its figures: docs/benchmarks.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_cli_reports_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_cli", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = dict(
        re.findall(r"^  (ivrctl [\w -]+?|one derivation)\s+(\d+\.\d+)", done.stdout, re.M)
    )
    assert set(figures) == {
        "ivrctl --help",
        "ivrctl tpw --help",
        "ivrctl tpw verify",
        "one derivation",
    }
    assert all(float(v) > 0 for v in figures.values())
