"""The adaptor: the call flow's Channel port spoken as AGI commands (agi/).

The flow never sees an AGI line; agi's HangupError becomes the flow's CallerHangup here.

Asterisk drops keys that arrive while no AGI command runs, so an entry is collected by one
command: a ``GOSUB`` into the dialplan's ``ivr-entry`` subroutine, which announces the step,
sets the first-key and inter-key timers (TIMEOUT(response) / TIMEOUT(digit)), drains keys
left over from the previous entry, and runs one ``Read()`` that plays all the entry's prompts
with barge-in. Inside a subroutine no key is dropped between applications, and the call
costs two AGI round trips an entry (the GOSUB, then Read's keys and status) instead of up
to six (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agi.errors import AGIError, HangupError
from agi.wire import Reply
from ivr.config import variables as var
from ivr.flow.ports import CallerHangup, Digits, Keyed, PromptItem, Sound

# The dialplan subroutine of one entry (dialplan/templates/extensions.conf). Its drain of
# left-over keys waits 0.4 s per key, at most 20 keys: a key typed just after an entry ended
# (a 9th digit) comes a few hundred ms later.
ENTRY_CONTEXT = "ivr-entry"
# Steps whose next action is an entry: their announcement rides in the entry's GOSUB.
ENTRY_STEPS = frozenset({"menu", "target", "password"})


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
        self._step: str | None = None  # an entry step announced with the next entry
        self._flush = False  # drain left-over keys before the next entry's prompts

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
        step, flush = self._step or "", self._flush
        self._step, self._flush = None, False
        args = (step, "&".join(files), max_digits, _seconds(first_key_s),
                _seconds(inter_key_s), int(flush))  # fmt: skip
        await self._call.command("GOSUB", ENTRY_CONTEXT, "s", "1", ",".join(map(str, args)))
        return await self._judge_read(max_digits)

    async def play(self, prompts: Sequence[PromptItem]) -> None:
        """To the end, keys ignored (final messages)."""
        for item in prompts:
            await self._play(item)

    async def flush_keys(self) -> None:
        """Left-over keys are drained by the next entry's subroutine, before its prompts: the
        flow flushes only right before collecting, so no command is needed here."""
        self._flush = True

    async def hangup(self) -> None:
        """Hang up from our side; a channel already gone is the same end."""
        try:
            await self._call.command("HANGUP")
        except CallerHangup:
            pass

    async def step(self, name: str) -> None:
        """The step, for operators: a channel variable, seen by AMI's CoreShowChannels through
        manager.conf's channelvars. A step that starts with an entry is set by that entry's
        subroutine (no command of its own between two entries); the others by one command.

        Only a step name from a closed set: it cannot carry keys. A channel that refuses the
        command (not a hang-up) does not end the call: this is for operators only.
        """
        if not name.replace("_", "").isalpha():
            raise ValueError(f"not a step name: {name!r}")
        if name in ENTRY_STEPS:
            self._step = name  # the entry that follows announces it
            return
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
