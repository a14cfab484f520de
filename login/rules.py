"""The settings site's rules for a new real password, one reason code per rule.

From the seed (P7, P10) and shared/spec/call-flow.md: 8-12 half-width letters and digits,
never digits only (the West site also refuses letters only), not the current password, no
run of 4 or more identical characters (0000, aaaa) nor an ascending or descending run of 4
or more (1234, abcd, 9876, dcba), not containing the subscriber's phone number, and the new
password keyed twice alike. Pure: no I/O, so every site and every test gets the same answer.

Choices the seed leaves open, made strict: runs are judged without case (`AaAa`, `aBcD`);
a run is within the digits or within the alphabet (`789a` is none, nor `9012`: no wrap);
"the phone number" is the login number and its contract's number, national form; a number
the directory does not know gets the West rules (the stricter set).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

MIN_LENGTH, MAX_LENGTH = 8, 12
RUN = 4
_HALF_WIDTH = re.compile(r"[A-Za-z0-9]*")
LETTERS_ONLY_REGIONS = frozenset({"west", None})  # None: not in the directory


class Reason(enum.StrEnum):
    MISMATCH = "mismatch"
    LENGTH = "length"
    CHARSET = "charset"
    DIGITS_ONLY = "digits_only"
    LETTERS_ONLY = "letters_only"
    SAME_AS_CURRENT = "same_as_current"
    REPEATED = "repeated"
    SEQUENCE = "sequence"
    CONTAINS_NUMBER = "contains_number"


# What the reference page shows (the seed's wording where it has one).
MESSAGES: dict[Reason, str] = {
    Reason.MISMATCH: "新しいパスワードと確認入力が一致しません。",
    Reason.LENGTH: "パスワードは8桁～12桁で設定してください。",
    Reason.CHARSET: "パスワードは半角英数字で設定してください。",
    Reason.DIGITS_ONLY: "数字のみのパスワードは設定できません。",
    Reason.LETTERS_ONLY: "英字のみのパスワードは設定できません。",
    Reason.SAME_AS_CURRENT: "現在のパスワードと同一のパスワードは設定できません。",
    Reason.REPEATED: "0000、aaaa等の4文字以上の同一文字列を含むパスワードは設定できません。",
    Reason.SEQUENCE: "1234、abcd等の昇降順の4文字以上の文字列を含むパスワードは設定できません。",
    Reason.CONTAINS_NUMBER: "お客様の電話番号を含むパスワードは設定できません。",
}


def _position(ch: str) -> tuple[str, int] | None:
    """(class, place) for a run: digits 0-9, letters a-z without case; None otherwise."""
    if "0" <= ch <= "9":
        return "digit", ord(ch) - ord("0")
    low = ch.lower()
    if "a" <= low <= "z" and ch.isascii():
        return "letter", ord(low) - ord("a")
    return None


def _steps(text: str) -> list[int | None]:
    """Between neighbours: the step within one class (0 = same character), else None."""
    places = [_position(ch) for ch in text]
    out: list[int | None] = []
    for a, b in zip(places, places[1:], strict=False):
        out.append(b[1] - a[1] if a is not None and b is not None and a[0] == b[0] else None)
    return out


def _has_run(text: str, step: int) -> bool:
    """RUN characters in a row whose neighbours all differ by `step`."""
    count = 0
    for s in _steps(text):
        count = count + 1 if s == step else 0
        if count >= RUN - 1:
            return True
    return False


def check(
    new: str,
    again: str,
    *,
    current: str,
    numbers: Iterable[str],
    region: str | None,
) -> list[Reason]:
    """Every rule the new password breaks, in the order above (empty: acceptable).

    region: the subscriber's (`east`, `west`, None when unknown); numbers: the subscriber's
    phone numbers (national form) the password must not contain.
    """
    reasons = []
    if new != again:
        reasons.append(Reason.MISMATCH)
    if not MIN_LENGTH <= len(new) <= MAX_LENGTH:
        reasons.append(Reason.LENGTH)
    if not _HALF_WIDTH.fullmatch(new):
        reasons.append(Reason.CHARSET)
    if new.isascii() and new.isdigit():
        reasons.append(Reason.DIGITS_ONLY)
    if region in LETTERS_ONLY_REGIONS and new.isascii() and new.isalpha():
        reasons.append(Reason.LETTERS_ONLY)
    if new == current:
        reasons.append(Reason.SAME_AS_CURRENT)
    if _has_run(new, 0):
        reasons.append(Reason.REPEATED)
    if _has_run(new, 1) or _has_run(new, -1):
        reasons.append(Reason.SEQUENCE)
    if any(number and number in new for number in numbers):
        reasons.append(Reason.CONTAINS_NUMBER)
    return reasons
