"""The adaptor: the call flow's Channel port spoken as AGI commands (agi/).

The flow never sees an AGI line; agi's HangupError becomes the flow's CallerHangup here.

Asterisk drops keys that arrive while no AGI command runs, so an entry is collected with
as few commands as possible: prompts with escape digits, then one ``Read()`` that has
separate first-key and inter-key timers (TIMEOUT(response) / TIMEOUT(digit)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agi.errors import AGIError, HangupError
from agi.wire import ESCAPE_ALL, Reply
from ivr import dialplan_variables as var
from ivr.flow.ports import CallerHangup, Digits, Keyed, PromptItem, Sound

# A key typed just after an entry ended (a 9th digit) comes a few hundred ms later: wait that long.
FLUSH_WAIT_MS = 400
FLUSH_MAX_ROUNDS = 20


class CommandSender(Protocol):
    """What the adaptor needs from a call: AgiCall.command, or a scripted fake in tests."""

    async def command(self, verb: str, *args: str | int) -> Reply: ...


def _seconds(value: float) -> str:
    """10.0 → "10", 2.5 → "2.5": the form TIMEOUT() reads."""
    if value <= 0:
        raise ValueError("timeouts must be positive")
    return f"{value:.3f}".rstrip("0").rstrip(".")


class _Commands:
    """A CommandSender whose hang-ups are the flow's CallerHangup."""

    def __init__(self, call: CommandSender) -> None:
        self._call = call

    async def command(self, verb: str, *args: str | int) -> Reply:
        try:
            return await self._call.command(verb, *args)
        except HangupError as exc:
            raise CallerHangup(str(exc)) from exc


class AgiChannel:
    """ivr.flow.ports.Channel over one AGI call."""

    def __init__(self, call: CommandSender, *, early_media: bool = True) -> None:
        self._call = _Commands(call)
        self._early_media = early_media  # refusals play their text before the final response
        self._timeouts: dict[str, str] = {}  # last TIMEOUT(...) value sent on this channel

    async def answer(self) -> None:
        """200 OK: from here the call is charged."""
        await self._call.command("ANSWER")

    async def refuse(self, prompts: Sequence[PromptItem], *, sip_status: int) -> None:
        """Early media (Progress: 183 with SDP), the prompts, then the dialplan's final response.

        The status goes to the dialplan, which sends it with PJSIPHangup after this AGI
        session ends (an application that hangs up, run from here, would end the session
        as a hang-up).
        """
        if self._early_media and prompts:
            await self._call.command("EXEC", "Progress", "")
            for item in prompts:
                await self._play(item, "")
        await self._call.command("SET VARIABLE", var.REFUSE_STATUS, str(sip_status))

    async def collect(
        self,
        prompts: Sequence[PromptItem],
        *,
        max_digits: int,
        first_key_s: float,
        inter_key_s: float,
    ) -> Keyed:
        """Prompts with barge-in; a key that interrupts one is the entry's first key."""
        if max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        items = list(prompts)
        last = items.pop() if items else None
        for item in items:
            if key := await self._play(item, ESCAPE_ALL):
                return await self._rest(key, max_digits, inter_key_s)
        read_prompt = ""
        if isinstance(last, Sound):
            read_prompt = last.id
        elif isinstance(last, Digits):
            if key := await self._play(last, ESCAPE_ALL):
                return await self._rest(key, max_digits, inter_key_s)
        return await self._read("", read_prompt, max_digits, first_key_s, inter_key_s)

    async def play(self, prompts: Sequence[PromptItem]) -> None:
        """To the end, keys ignored (final messages)."""
        for item in prompts:
            await self._play(item, "")

    async def flush_keys(self) -> None:
        """Each WAIT FOR DIGIT takes one queued key; stop at the first quiet FLUSH_WAIT_MS."""
        for _ in range(FLUSH_MAX_ROUNDS):
            reply = await self._call.command("WAIT FOR DIGIT", FLUSH_WAIT_MS)
            if not reply.number:
                return

    async def hangup(self) -> None:
        """Hang up from our side; a channel already gone is the same end."""
        try:
            await self._call.command("HANGUP")
        except CallerHangup:
            pass

    async def step(self, name: str) -> None:
        """The step, for operators: a channel variable, seen by AMI's CoreShowChannels through
        manager.conf's channelvars. One command only: keys typed while no command runs are
        lost, so nothing more goes between an entry and the next prompt.

        Only a step name from a closed set: it cannot carry keys. A channel that refuses the
        command (not a hang-up) does not end the call: this is for operators only.
        """
        if not name.replace("_", "").isalpha():
            raise ValueError(f"not a step name: {name!r}")
        try:
            await self._call.command("SET VARIABLE", var.STEP, name)
        except AGIError:
            pass

    async def _play(self, item: PromptItem, escape: str) -> str:
        """Plays one item; returns the key that interrupted it, or ""."""
        if isinstance(item, Sound):
            reply = await self._call.command("STREAM FILE", item.id, escape)
        else:
            reply = await self._call.command("SAY DIGITS", item.number, escape)
        code = reply.number
        return chr(code) if code and code > 0 else ""

    async def _rest(self, first: str, max_digits: int, inter_key_s: float) -> Keyed:
        """The rest of an entry whose first key interrupted a prompt."""
        if first == "#":
            return Keyed("", terminated=True)
        if max_digits == 1:
            return Keyed(first)
        return await self._read_rest(first, max_digits - 1, inter_key_s)

    async def _read(
        self, first: str, prompt: str, n: int, response_s: float, digit_s: float
    ) -> Keyed:
        """One Read() for up to n keys, with separate first-key and inter-key timers (the
        channel's TIMEOUT(response) and TIMEOUT(digit), set only when they change)."""
        if "," in prompt or "|" in prompt:
            raise ValueError("prompt id must not contain ',' or '|'")
        await self._set_timeout("response", response_s)
        await self._set_timeout("digit", digit_s)
        await self._call.command("EXEC", "Read", f"{var.KEYS},{prompt},{n}")
        return await self._judge_read(first, n)

    async def _read_rest(self, first: str, n: int, inter_key_s: float) -> Keyed:
        """The rest of an entry after the key that interrupted a prompt: the next command must
        be the Read() itself (keys typed while no command runs are lost), so its one timer
        (Read's timeout argument: the inter-key wait for every key) replaces the SET VARIABLEs.
        """
        timeout = _seconds(inter_key_s)
        await self._call.command("EXEC", "Read", f"{var.KEYS},,{n},,1,{timeout}")
        return await self._judge_read(first, n)

    async def _judge_read(self, first: str, n: int) -> Keyed:
        """Read()'s value and status, judged together."""
        value = (await self._call.command("GET VARIABLE", var.KEYS)).data or ""
        status = (await self._call.command("GET VARIABLE", var.READ_STATUS)).data or ""
        digits = first + value
        if status == "TIMEOUT":
            return Keyed(digits, timed_out=True)
        if status == "OK":
            return Keyed(digits, terminated=len(value) < n)
        if status == "HANGUP":
            raise CallerHangup("Read() saw the hang-up")
        raise AGIError(f"Read() ended with status {status or 'unset'}")

    async def _set_timeout(self, which: str, seconds: float) -> None:
        value = _seconds(seconds)
        if self._timeouts.get(which) == value:
            return
        await self._call.command("SET VARIABLE", f"TIMEOUT({which})", value)
        self._timeouts[which] = value
