"""Scripted stand-ins for the flow's ports: no sockets, no sleeps, every action recorded.

All fakes append to one shared `log` so a test can assert order across them (e.g. the DONE
prompt is played only after set_prepared returned).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr.flow.ports import CallerHangup, Keyed, PromptItem
from store.types import Prepared, StoreUnavailable, Subscriber, Unit


@dataclass(frozen=True)
class Later:
    """An entry the caller finishes (or a hang-up) only once ``until`` is set (a slow caller)."""

    keyed: Keyed | CallerHangup
    until: asyncio.Event


ScriptItem = Keyed | CallerHangup | asyncio.Event | Later


class ScriptExhausted(BaseException):
    """The flow asked for more input than the test scripted (BaseException: not swallowed)."""


def key(digits: str) -> Keyed:
    """Entry ended at max_digits (neither `#` nor a timer)."""
    return Keyed(digits)


def pound(digits: str) -> Keyed:
    """Entry ended with `#`."""
    return Keyed(digits, terminated=True)


def timer(digits: str = "") -> Keyed:
    """Entry ended by a timer (no input when digits is empty)."""
    return Keyed(digits, timed_out=True)


@dataclass
class Collect:
    prompts: tuple[PromptItem, ...]
    max_digits: int
    first_key_s: float
    inter_key_s: float


class FakeChannel:
    """Returns one scripted item per collect: a Keyed, a CallerHangup (raised) or an
    asyncio.Event (blocks until set; for the call deadline)."""

    def __init__(self, *script: ScriptItem, log: list[tuple[Any, ...]] | None = None) -> None:
        self.script: deque[ScriptItem] = deque(script)
        self.log: list[tuple[Any, ...]] = [] if log is None else log
        self.collects: list[Collect] = []
        self.played: list[tuple[PromptItem, ...]] = []
        self.flushes = 0
        self.hangups = 0
        self.hangup_on_play = False
        self.answered = False
        self.refused: list[int] = []  # final SIP statuses sent instead of an answer
        self.steps: list[str] = []  # steps announced to operators, in order

    async def collect(
        self,
        prompts: Sequence[PromptItem],
        *,
        max_digits: int,
        first_key_s: float,
        inter_key_s: float,
    ) -> Keyed:
        self.collects.append(Collect(tuple(prompts), max_digits, first_key_s, inter_key_s))
        self.log.append(("collect", tuple(prompts)))
        if not self.script:
            raise ScriptExhausted(f"collect #{len(self.collects)} was not scripted")
        item = self.script.popleft()
        if isinstance(item, CallerHangup):
            raise item
        if isinstance(item, asyncio.Event):
            await item.wait()
            raise CallerHangup("released")
        if isinstance(item, Later):
            await item.until.wait()
            if isinstance(item.keyed, CallerHangup):
                raise item.keyed
            return item.keyed
        return item

    async def play(self, prompts: Sequence[PromptItem]) -> None:
        self.played.append(tuple(prompts))
        self.log.append(("play", tuple(prompts)))
        if self.hangup_on_play:
            raise CallerHangup("left during the goodbye")

    async def answer(self) -> None:
        self.answered = True
        self.log.append(("answer",))

    async def refuse(self, prompts: Sequence[PromptItem], *, sip_status: int) -> None:
        assert not self.answered, "a refusal after the answer would charge the caller"
        self.played.append(tuple(prompts))
        self.refused.append(sip_status)
        self.log.append(("refuse", tuple(prompts), sip_status))

    async def flush_keys(self) -> None:
        self.flushes += 1
        self.log.append(("flush",))

    async def hangup(self) -> None:
        self.hangups += 1
        self.log.append(("hangup",))

    async def step(self, name: str) -> None:
        self.steps.append(name)


class FakeDirectory:
    def __init__(self, *subscribers: Subscriber, fail: Exception | None = None) -> None:
        self.by_number = {s.number: s for s in subscribers}
        self.fail = fail

    async def lookup(self, number: str) -> Subscriber | None:
        if self.fail:
            raise self.fail
        return self.by_number.get(number)

    async def find_in_contract(self, contract_number: str, number: str) -> Subscriber | None:
        sub = self.by_number.get(number)
        if sub and sub.active and sub.contract_number == contract_number:
            return sub
        return None


@dataclass
class SetCall:
    number: str
    password: str
    unit: Unit
    contract_number: str
    set_by: str
    call_id: str


@dataclass
class FakeStore:
    log: list[tuple[Any, ...]] = field(default_factory=list)
    calls: list[SetCall] = field(default_factory=list)
    fail: BaseException | None = None
    gate: asyncio.Event | None = None  # set_prepared waits for it before returning
    prepare_gate: asyncio.Event | None = None  # prepare waits for it (a slow derivation)
    prepared: list[Prepared] = field(default_factory=list)
    prepare_started: asyncio.Event = field(default_factory=asyncio.Event)
    prepare_tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def prepare(self, password: str) -> Prepared:
        """A stand-in verifier that remembers its password, for the test's assertions."""
        self.log.append(("store.prepare",))
        if (task := asyncio.current_task()) is not None:
            self.prepare_tasks.append(task)
        self.prepare_started.set()
        if self.prepare_gate is not None:
            await self.prepare_gate.wait()
        prepared = Prepared(salt=b"", verifier=password.encode(), kdf_json="fake")
        self.prepared.append(prepared)
        return prepared

    async def set_prepared(
        self,
        number: str,
        prepared: Prepared,
        *,
        unit: Unit,
        contract_number: str,
        set_by: str,
        call_id: str,
    ) -> None:
        self.log.append(("store.begin", number))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        password = prepared.verifier.decode()
        self.calls.append(SetCall(number, password, unit, contract_number, set_by, call_id))
        self.log.append(("store.done", number))


@dataclass
class FakeLimiter:
    allow: bool = True
    fail: bool = False
    admitted: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def admit(self, caller: str) -> bool:
        if self.fail:
            raise StoreUnavailable("limiter down")
        self.admitted.append(caller)
        return self.allow

    async def record_failure(self, caller: str) -> None:
        self.failures.append(caller)
