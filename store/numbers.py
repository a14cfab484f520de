"""Login numbers in the one form the store keys them by: national, `0…`, digits only.

The directory and every Redis key hold `0664806430`; a web site that passes the E.164 form
`+81664806430` must find the same record, not `none`. Anything else (hyphens, spaces, other
country codes) is refused rather than guessed at: the seed asks for the number without
hyphens, and a guess could log one subscriber in as another.
"""

from __future__ import annotations

import re

# Japanese national numbers: 0, then 9 or 10 digits (fixed lines 10 digits, 050/070/080/090
# 11); the E.164 form drops the 0 behind +81.
_NATIONAL = re.compile(r"0[1-9][0-9]{8,9}")
_E164_JP = re.compile(r"\+81([1-9][0-9]{8,9})")


class BadNumber(ValueError):
    """Not a Japanese number in the national or +81 form (the message never echoes it)."""


def national(raw: str) -> str:
    """`0664806430` or `+81664806430` → `0664806430`; BadNumber for anything else."""
    if not isinstance(raw, str):
        raise BadNumber("a number is a string")
    if _NATIONAL.fullmatch(raw):
        return raw
    found = _E164_JP.fullmatch(raw)
    if found:
        return "0" + found.group(1)
    raise BadNumber(
        "a number is 10-11 digits starting with 0 (national form, no hyphens) or +81 and"
        " the number without its leading 0"
    )
