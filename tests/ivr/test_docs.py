"""docs/call-flow.md draws TABLE: every transition appears in the diagram and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.flow.table import TABLE, End, S, State

DOC = Path(__file__).resolve().parents[2] / "docs" / "call-flow.md"


def _node(state: State) -> str:
    return "[*]" if state is S.END else str(state)


def expected_lines() -> set[str]:
    lines = set()
    for (state, event), (target, action) in TABLE.items():
        label = action.label if isinstance(action, End) else str(action)
        lines.add(f"{_node(state)} --> {_node(target)} : {event} / {label}")
    return lines


def diagram_lines() -> set[str]:
    match = re.search(r"```mermaid\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/call-flow.md has no mermaid block"
    lines = {line.strip() for line in match.group(1).splitlines()}
    return {line for line in lines if "-->" in line and not line.startswith("[*] -->")}


def test_diagram_matches_the_table() -> None:
    drawn, table = diagram_lines(), expected_lines()
    missing = "\n".join(sorted(table - drawn))
    extra = "\n".join(sorted(drawn - table))
    assert not missing, f"transitions missing from docs/call-flow.md:\n{missing}"
    assert not extra, f"transitions in docs/call-flow.md but not in TABLE:\n{extra}"


def test_diagram_starts_at_the_caller_check() -> None:
    assert "[*] --> caller_check" in DOC.read_text(encoding="utf-8")
