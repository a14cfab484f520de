"""The house as drawn: import-linter's contracts hold, and each one catches a violation.

Each violation is planted in a copy of the packages, so the proof runs on the real
contracts from pyproject.toml without touching the tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agi", "store", "ivr", "sounds", "dialplan", "loadgen", "login")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contracts_hold_on_the_tree() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "10 kept, 0 broken" in done.stdout


def test_wire_protocol_loads_nothing_of_the_service() -> None:
    code = (
        "import agi.protocol, sys; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'ivr','store','sounds','dialplan'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


VIOLATIONS = [
    ("agi/server.py", "import ivr.flow.ports", "agi is a FastAGI library"),
    ("agi/errors.py", "import store.types", "agi is a FastAGI library"),
    ("agi/server.py", "import dialplan.render", "agi is a FastAGI library"),
    ("store/limits.py", "import ivr.config.settings", "store is the web site's library"),
    ("store/types.py", "import agi.wire", "store is the web site's library"),
    ("ivr/flow/entries.py", "import agi.errors", "the call flow speaks no AGI"),
    ("ivr/flow/call.py", "import ivr.agi_channel", "the call flow speaks no AGI"),
    ("sounds/catalog.py", "import ivr.flow", "sounds and dialplan take plain values"),
    ("dialplan/render.py", "import store.types", "sounds and dialplan take plain values"),
    ("agi/wire.py", "import structlog", "depends on the standard library alone"),
    ("ivr/agi_channel.py", "import ivr.service.serve", "the rooms of ivr"),
    ("ivr/flow/table.py", "import ivr.config.settings", "the rooms of ivr"),
    ("ivr/config/settings.py", "import ivr.deploy.procs", "the rooms of ivr"),
    ("ivr/deploy/stack.py", "import ivr.service.metrics", "the rooms of ivr"),
    ("ivr/deploy/procs.py", "import ivr.cli", "the rooms of ivr"),
    ("ivr/ops/tpw.py", "import ivr.tools.plan", "the rooms of ivr"),
    ("ivr/tools/load.py", "import ivr.ops.follow", "the rooms of ivr"),
    ("ivr/service/serve.py", "import ivr.deploy.probes", "the running service loads no deployment"),
    ("ivr/service/handlers.py", "import ivr.tools.plan", "the running service loads no deployment"),
    ("ivr/service/metrics.py", "import loadgen.sipmsg", "the running service loads no deployment"),
    ("login/service.py", "import ivr.config.settings", "login stands on the store"),
    ("login/app.py", "import loadgen.sipp", "login stands on the store"),
    ("store/accounts.py", "import login.rules", "the store knows no login service"),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("house")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize("module,line,contract", VIOLATIONS, ids=[v[1] for v in VIOLATIONS])
def test_each_rule_catches_a_violation(
    pristine: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(pristine, tree)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # planted by tests/test_layers.py\n")
    done = lint_imports(tree)
    assert done.returncode != 0
    broken = [ln for ln in done.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(contract in ln for ln in broken), done.stdout[-3000:]
