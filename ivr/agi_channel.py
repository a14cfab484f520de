"""The adaptor: the call flow's Channel port spoken as AGI commands (agi/).

The flow never sees an AGI line; agi's HangupError becomes the flow's CallerHangup here.

Asterisk drops keys that arrive while no AGI command runs, so an entry is collected by one
command: a ``Read()`` that plays all its prompts with barge-in and has separate first-key and
inter-key timers (TIMEOUT(response) / TIMEOUT(digit)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agi.errors import AGIError, HangupError
from agi.wire import Reply
from ivr.config import variables as var
from ivr.flow.ports import CallerHangup, Digits, Keyed, PromptItem, Sound

# A key typed just after an entry ended (a 9th digit) comes a few hundred ms later: wait that long.
FLUSH_WAIT_MS = 400
FLUSH_MAX_ROUNDS = 20


class CommandSender(Protocol):
    """What the adaptor needs from a call: AgiCall.command, or a scripted fake in tests."""

    async def command(self, verb: str, *args: str | int) -> Reply: ...


def _files(item: PromptItem) -> list[str]:
    """The sound files of one prompt item, as Read()'s '&'-separated file argument takes them."""
    if isinstance(item, Digits):
        if not item.number.isdigit():
            raise ValueError("only digits can be read back")
        return [f"digits/{d}" for d in item.number]
    if any(c in item.id for c in ",|&"):
        raise ValueError("prompt id must not contain ',', '|' or '&'")
    return [item.id]


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
                await self._play(item)
        await self._call.command("SET VARIABLE", var.REFUSE_STATUS, str(sip_status))

    async def collect(
        self,
        prompts: Sequence[PromptItem],
        *,
        max_digits: int,
        first_key_s: float,
        inter_key_s: float,
    ) -> Keyed:
        """One Read() plays every prompt (files joined with '&', digits as digits/N files) and
        takes the keys: a key during any prompt stops it and is the entry's first key, and the
        rest follow within the same command, so no key falls between two commands."""
        if max_digits < 1:
            raise ValueError("max_digits must be at least 1")
        files = [name for item in prompts for name in _files(item)]
        await self._set_timeout("response", first_key_s)
        await self._set_timeout("digit", inter_key_s)
        await self._call.command("EXEC", "Read", f"{var.KEYS},{'&'.join(files)},{max_digits}")
        return await self._judge_read(max_digits)

    async def play(self, prompts: Sequence[PromptItem]) -> None:
        """To the end, keys ignored (final messages)."""
        for item in prompts:
            await self._play(item)

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

    async def _play(self, item: PromptItem) -> None:
        """Plays one item to its end, keys ignored."""
        if isinstance(item, Sound):
            await self._call.command("STREAM FILE", item.id, "")
        else:
            await self._call.command("SAY DIGITS", item.number, "")

    async def _judge_read(self, n: int) -> Keyed:
        """Read()'s value and status, judged together (fetched in one command)."""
        both = f"${{{var.KEYS}}}|${{{var.READ_STATUS}}}"  # keys never hold '|'
        reply = await self._call.command("GET FULL VARIABLE", both)
        value, _, status = (reply.data or "").partition("|")
        if status == "TIMEOUT":
            return Keyed(value, timed_out=True)
        if status == "OK":
            return Keyed(value, terminated=len(value) < n)
        if status == "HANGUP":
            raise CallerHangup("Read() saw the hang-up")
        raise AGIError(f"Read() ended with status {status or 'unset'}")

    async def _set_timeout(self, which: str, seconds: float) -> None:
        value = _seconds(seconds)
        if self._timeouts.get(which) == value:
            return
        await self._call.command("SET VARIABLE", f"TIMEOUT({which})", value)
        self._timeouts[which] = value
