"""The caller's entries as declarations, and pure judges of what was keyed.

An entry says what is played and how keying ends; a judge says "ok" or why it is a strike.
Neither touches a channel, so every key rule of call-flow.md is a one-line test.
Key rules (the channel implements them, see ivr.flow.ports.Keyed): the key that interrupted a
prompt is the entry's first key; `#` ends an entry and is never part of the digits; the
first-key timer expiring is "no input"; the inter-key timer ends the entry, judged as keyed.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass, replace

from ivr.flow.ports import Digits, Keyed, PromptItem, Sound
from ivr.flow.timing import Timing
from sounds.catalog import Prompt
from store.types import PASSWORD_LENGTH, Unit


class Strike(enum.StrEnum):
    """Why an entry was wrong (logged with call.strike; never the keys themselves)."""

    NO_INPUT = "no_input"  # the first-key timer ran out
    INVALID_KEY = "invalid_key"  # a key that this entry never accepts (menu 0/4-9/*/#, `*`)
    BAD_LENGTH = "bad_length"  # wrong number of digits (password not 8, `#` alone, over cap)
    NOT_IN_CONTRACT = "not_in_contract"  # not an active number of the caller's contract
    MISMATCH = "mismatch"  # confirmation differs from the first password entry


@dataclass(frozen=True)
class Entry:
    """One thing the caller keys: prompts, how it ends, its timers and tries.

    The channel always ends an entry on `#`; the judges decide what that means (for the
    target it is the terminator, for the menu and the password a strike).
    say_target: the target number is read back before the prompts (password step).
    """

    prompt: tuple[Prompt, ...]
    max_digits: int
    first_key_s: float = Timing.first_key_s
    inter_key_s: float = Timing.inter_key_s
    tries: int = Timing.tries
    say_target: bool = False

    def timed(self, timing: Timing) -> Entry:
        """This entry with the timers and tries of the running service."""
        return replace(
            self,
            first_key_s=timing.first_key_s,
            inter_key_s=timing.inter_key_s,
            tries=timing.tries,
        )

    def prompts(self, target: str | None, *, after_strike: bool) -> list[PromptItem]:
        """What collect plays: the error prompt first after a strike (barge-in allowed)."""
        items: list[PromptItem] = [Sound(Prompt.INVALID)] if after_strike else []
        if self.say_target and target:
            items.append(Digits(target))
        items.extend(Sound(p) for p in self.prompt)
        return items


MENU = Entry(prompt=(Prompt.UNIT_MENU,), max_digits=1)
# 16 is a cap, not a rule: no directory number is that long, so hitting it is a strike.
TARGET = Entry(prompt=(Prompt.ASK_TARGET,), max_digits=16)
PASSWORD = Entry(
    prompt=(Prompt.PASSWORD_INTRO, Prompt.ASK_PASSWORD),
    max_digits=PASSWORD_LENGTH,
    say_target=True,
)
CONFIRM = Entry(prompt=(Prompt.ASK_CONFIRM,), max_digits=PASSWORD_LENGTH)
MENU_KEYS: dict[str, Unit] = {"1": Unit.LINE, "2": Unit.NUMBER, "3": Unit.ADMIN_USER}


def _no_input(keyed: Keyed) -> bool:
    return keyed.digits == "" and not keyed.terminated


def judge_menu(keyed: Keyed) -> Unit | Strike:
    """One key: 1-3 choose a unit; 0, 4-9, `*`, `#` are strikes; no key is a strike."""
    if _no_input(keyed):
        return Strike.NO_INPUT
    return MENU_KEYS.get(keyed.digits, Strike.INVALID_KEY)


def judge_target(keyed: Keyed) -> Strike | None:
    """The keyed form only; whether it is in the contract is the directory's answer."""
    if _no_input(keyed):
        return Strike.NO_INPUT
    if not keyed.digits.isdigit() or not keyed.digits.isascii():
        return Strike.INVALID_KEY if keyed.digits else Strike.BAD_LENGTH
    if not keyed.terminated and not keyed.timed_out:
        return Strike.BAD_LENGTH  # ran into the cap without `#`
    return None


def judge_password(keyed: Keyed) -> Strike | None:
    """Exactly 8 digits; `#`, `*` or the timer before the 8th is a strike."""
    if _no_input(keyed):
        return Strike.NO_INPUT
    digits = keyed.digits
    if digits and not (digits.isdigit() and digits.isascii()):
        return Strike.INVALID_KEY
    if len(digits) != PASSWORD_LENGTH:
        return Strike.BAD_LENGTH
    return None


def judge_confirm(first: str, keyed: Keyed) -> Strike | None:
    """A valid 8-digit entry equal to the first one (compared in constant time)."""
    strike = judge_password(keyed)
    if strike is not None:
        return strike
    if not hmac.compare_digest(first.encode(), keyed.digits.encode()):
        return Strike.MISMATCH
    return None
