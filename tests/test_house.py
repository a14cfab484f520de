"""The house as a newcomer reads it: small modules, no circle of imports, every room named.

These hold for the service's packages and the benchmarks (tests may be longer: a test file
reads top to bottom as one story).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agi", "store", "ivr", "sounds", "dialplan", "loadgen", "benchmarks")
MAX_LINES = 330
ROOMS = ("ivr/config/", "ivr/service/", "ivr/ops/", "ivr/deploy/", "ivr/tools/", "ivr/flow/")


def test_no_module_over_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _imported(graph: grimp.ImportGraph, module: str):  # type: ignore[no-untyped-def]
    return iter(sorted(graph.find_modules_directly_imported_by(module)))


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, _imported(graph, root))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_circle_of_imports() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("x.a", "x.b"), ("x.b", "x.c"), ("x.c", "x.a"), ("x.c", "x.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["x.a", "x.b", "x.c"]]


def _layout_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_the_readme_layout_names_every_top_level_folder_and_room() -> None:
    named = " ".join(
        re.findall(r"`([^`]+)`", " ".join(row.split("|")[1] for row in _layout_rows()))
    )
    folders = sorted(
        p.name + "/"
        for p in ROOT.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in {"var", "__pycache__"}
        and not p.name.endswith(".egg-info")
    )  # fmt: skip
    missing = [f for f in folders + list(ROOMS) if f not in named]
    assert not missing, f"README's layout table does not name: {missing}"
