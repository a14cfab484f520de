"""Render the Asterisk configuration templates for one stack (its ports and state dir).

Templates use `@{name}` placeholders, so Asterisk's own `${VAR}` syntax passes untouched;
a missing value is an error, never a silently empty setting. The values are plain strings
from the composition root (ivr.deploy.stack); this package knows no settings object.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")


class ConfTemplate(Template):
    delimiter = "@"


def render(mapping: dict[str, str]) -> dict[str, str]:
    """Every template filled in: {file name: text}. The caller writes them (0600: they hold
    the AMI and AGI secrets)."""
    return {
        template.name: ConfTemplate(template.read_text()).substitute(mapping)
        for template in sorted(TEMPLATES.glob("*.conf"))
    }


KAMAILIO = Path(__file__).with_name("kamailio") / "kamailio.cfg"


def render_kamailio(mapping: dict[str, str]) -> str:
    """The cluster's Kamailio configuration filled in (no secret in it)."""
    return ConfTemplate(KAMAILIO.read_text()).substitute(mapping)
