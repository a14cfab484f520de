"""Render the Asterisk configuration templates for one stack (its ports and state dir).

Templates use `@{name}` placeholders, so Asterisk's own `${VAR}` syntax passes untouched;
a missing value is an error, never a silently empty setting. The values are plain strings
from the composition root (ivr.app.stack); this package knows no settings object.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")


class ConfTemplate(Template):
    delimiter = "@"


def render(out_dir: Path, mapping: dict[str, str]) -> list[Path]:
    """Write every template into out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(TEMPLATES.glob("*.conf")):
        text = ConfTemplate(template.read_text()).substitute(mapping)
        target = out_dir / template.name
        target.write_text(text)
        written.append(target)
    return written
