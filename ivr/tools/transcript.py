"""What a caller heard, from the prompts the service logged and the keys sent (`ivrctl call`).

The flow logs every list of prompts it plays (call.prompt: catalog ids, the target read back
as calllog.READBACK) and every wrong entry (call.strike), so nothing of the table, the
entries or the refusals is re-derived here: the transcript prints what was played, with the
catalog's text, and after each entry the next key group sent, unless that entry heard no key
at all (a no_input strike). Password entries are shown masked: no password digit is printed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ivr.flow.calllog import READBACK, CallPrompt, LogLine, Played
from ivr.flow.entries import Strike
from ivr.flow.outcomes import Step
from ivr.flow.ports import Digits, PromptItem, Sound
from sounds.catalog import DIGIT_TEXT, TEXT
from store.types import PASSWORD_LENGTH


@dataclass(frozen=True)
class Line:
    """One transcript line: prompts heard (``heard``) or keys sent (``keys``)."""

    heard: tuple[PromptItem, ...] = ()
    keys: str | None = None

    def render(self) -> str:
        if self.keys is not None:
            return f"  keys  {self.keys}"
        return "\n".join(f"  heard {_id(p)}  「{_text(p)}」" for p in self.heard)


def _id(item: PromptItem) -> str:
    return f"digits {item.number}" if isinstance(item, Digits) else item.id


def _text(item: PromptItem) -> str:
    if isinstance(item, Digits):
        return "".join(DIGIT_TEXT.get(f"digits/{d}", d) for d in item.number)
    return TEXT.get(item.id, "?")


def heard(prompt: CallPrompt, target: str | None) -> tuple[PromptItem, ...]:
    """The prompts of one call.prompt line as played (the target read back as digits)."""
    return tuple(Digits(target or "") if p == READBACK else Sound(p) for p in prompt.prompts)


def _shown(group: str, prompt: CallPrompt) -> str:
    """A key group as printed: masked at the password step, and wherever it could be one."""
    masked = prompt.step == Step.PASSWORD or len(group) == PASSWORD_LENGTH
    return "•" * len(group) if masked else group


def derive(lines: Sequence[LogLine], groups: Sequence[str]) -> list[Line]:
    """The transcript of one call from its own log lines (in order) and the key groups sent.

    An entry's keys are shown once the flow judged it (a strike or the next prompt follows);
    an entry the call ended in (the caller hung up) shows none.
    """
    target = next((line.end.target for line in lines if line.end is not None), None)
    keys, out = deque(groups), []
    entry: CallPrompt | None = None  # the entry played whose keys are not shown yet

    def judged() -> None:
        nonlocal entry
        if entry is not None and keys:
            out.append(Line(keys=_shown(keys.popleft(), entry)))
        entry = None

    for line in lines:
        if (prompt := line.prompt) is not None:
            judged()
            out.append(Line(heard=heard(prompt, target)))
            entry = prompt if prompt.kind == Played.ENTRY else None
        elif (strike := line.strike) is not None:
            if strike.reason == Strike.NO_INPUT:
                entry = None  # no key reached this entry: the group sent is the next one's
            judged()
    return out
