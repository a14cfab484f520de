"""Normalise the delivered caller ID into the form the directory holds.

The directory stores national numbers with the leading 0 and no separators (`0664806430`);
the trunk may deliver `+81664806430`, `+81-6-6480-6430`, `+81 (0)6 …` or a placeholder for a
withheld number. Only a present, numeric caller ID identifies a caller.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# Placeholders Asterisk and trunks put where a number would be (compared lower-cased).
_ANONYMOUS = frozenset(
    {"anonymous", "unavailable", "unknown", "<unknown>", "restricted", "private", "withheld"}
)
_SEPARATORS = re.compile(r"[-\s().]")
_NUMBER = re.compile(r"\+?[0-9]+")
_MAX_LEN = 20  # longer than any E.164 number: garbage, not a caller


class Withheld(enum.StrEnum):
    """Why there is no caller number."""

    MISSING = "missing"
    ANONYMOUS = "anonymous"
    NON_NUMERIC = "non_numeric"


@dataclass(frozen=True)
class CallerId:
    """Either a number (national form, e.g. `0664806430`) or the reason there is none."""

    number: str | None
    withheld: Withheld | None = None


def normalise(raw: str | None) -> CallerId:
    """`+81…` → `0…`, separators dropped; placeholders and non-numeric values are withheld."""
    text = (raw or "").strip().strip('"').strip()
    if not text:
        return CallerId(None, Withheld.MISSING)
    if text.lower() in _ANONYMOUS:
        return CallerId(None, Withheld.ANONYMOUS)
    text = _SEPARATORS.sub("", text)
    if not _NUMBER.fullmatch(text) or len(text) > _MAX_LEN:
        return CallerId(None, Withheld.NON_NUMERIC)
    if text.startswith("+81"):
        national = text[3:]
        # "+81 (0)6 …" keeps the trunk prefix; do not double it.
        text = national if national.startswith("0") else "0" + national
    if text in {"", "0", "+"}:
        return CallerId(None, Withheld.NON_NUMERIC)
    # Any other "+…" is a foreign number: a caller, just not one the directory holds.
    return CallerId(text)
