"""Render the Asterisk configuration templates for one stack (its ports and state dir).

Templates use `@{name}` placeholders, so Asterisk's own `${VAR}` syntax passes untouched;
a missing value is an error, never a silently empty setting.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from ivr.settings import Settings

TEMPLATES = Path(__file__).with_name("templates")
AMI_USER = "ivr"
# The dialplan's own backstop beyond the flow's maximum call duration.
HARD_LIMIT_MARGIN_S = 60


class ConfTemplate(Template):
    delimiter = "@"


def values(settings: Settings, *, moddir: str, ami_secret: str) -> dict[str, str]:
    return {
        "moddir": moddir,
        "sip_host": settings.sip_host,
        "sip_port": str(settings.sip_port),
        "agi_host": settings.agi_host,
        "agi_port": str(settings.agi_port),
        "ami_port": str(settings.ami_port),
        "ami_user": AMI_USER,
        "ami_secret": ami_secret,
        "rtp_start": "10000",
        "rtp_end": "20000",
        "hard_limit_s": str(int(settings.timing.max_call_s) + HARD_LIMIT_MARGIN_S),
    }


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
