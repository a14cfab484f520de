"""What a caller heard, derived from the call log and the keys sent (for `ivrctl call`).

The call log records where a call went (call.strike: step and reason; call.end: unit,
target, outcome, step, answered), never what was played; the flow's own entries
(ivr.flow.entries) say what each state plays. Walking the states with the logged strikes
and the key groups sent gives the prompts in order, with the catalog's text as heard.
Password entries are shown masked: no password digit is ever printed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivr.flow import entries
from ivr.flow.ports import Digits, PromptItem, Sound
from sounds.catalog import DIGIT_TEXT, TEXT, Prompt

ENTRY = {
    "menu": entries.MENU,
    "target": entries.TARGET,
    "password": entries.PASSWORD,
    "confirm": entries.CONFIRM,
}
STEP_OF = {"menu": "menu", "target": "target", "password": "password", "confirm": "password"}
REFUSAL = {
    "rejected_anonymous": Prompt.WITHHELD,
    "rejected_not_subscribed": Prompt.NOT_SUBSCRIBED,
    "rejected_rate_limited": Prompt.LIMITED,
    "rejected_capacity": Prompt.SORRY,
    "error_store": Prompt.SORRY,
    "error_internal": Prompt.SORRY,
}
ENDING = {
    "failed_strikes": [Prompt.START_AGAIN],
    "error_store": [Prompt.SORRY],
    "error_internal": [Prompt.SORRY],
    "timeout_call": [Prompt.CALL_TOO_LONG],
    "rejected_not_subscribed": [Prompt.NOT_SUBSCRIBED],
}


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


def _valid_password(group: str | None) -> bool:
    return bool(group) and len(group) == 8 and group.isdigit()  # type: ignore[arg-type]


def derive(
    end: dict[str, Any],
    strikes: Sequence[dict[str, Any]],
    groups: Sequence[str],
    *,
    caller: str,
    tries: int,
) -> list[Line]:
    """The transcript of one call from its call.end, its call.strike lines and the keys."""
    outcome, target = str(end.get("outcome")), end.get("target")
    if not end.get("answered"):
        prompt = REFUSAL.get(outcome)
        return [Line(heard=(Sound(prompt),))] if prompt else []
    todo, keys = deque(strikes), deque(groups)
    out: list[Line] = []
    state, after = "menu", False
    while True:
        out.append(Line(heard=tuple(ENTRY[state].prompts(target, after_strike=after))))
        group = keys.popleft() if keys else None
        strike = todo[0] if todo and todo[0].get("step") == STEP_OF[state] else None
        if state == "password" and _valid_password(group) and strike is not None:
            strike = None if strike.get("reason") != "no_input" else strike
        if strike is not None and strike.get("reason") == "no_input":
            if group is not None:
                keys.appendleft(group)
            group = None
        if group is not None:
            masked = state in ("password", "confirm")
            out.append(Line(keys="•" * len(group) if masked else group))
        if strike is not None:
            todo.popleft()
            after = True
            last = not todo and outcome == "failed_strikes" and int(strike["strikes"]) >= tries
            if last:
                break
            state = "password" if state == "confirm" else state
            continue
        if not todo and outcome != "set" and STEP_OF[state] == end.get("step"):
            break
        after = False
        if state == "menu":
            needs = end.get("unit") == "number" or (
                end.get("unit") == "admin_user" and target != caller
            )
            state = "target" if needs else "password"
        elif state == "target":
            state = "password"
        elif state == "password":
            state = "confirm"
        else:
            break  # the commit
    if outcome == "set":
        ending: list[PromptItem] = [Digits(target)] if target else []
        out.append(Line(heard=(*ending, Sound(Prompt.DONE))))
    elif outcome in ENDING:
        out.append(Line(heard=tuple(Sound(p) for p in ENDING[outcome])))
    return out
