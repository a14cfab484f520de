"""The per-call state machine: handlers that do one piece of I/O each and name it as an Event.

ivr.flow.table says where each Event leads. The caller hanging up (CallerHangup), the
maximum call duration and an unexpected error end the call from any state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ivr.flow import entries
from ivr.flow.callerid import normalise
from ivr.flow.calllog import log_call_event, log_call_start, log_strike
from ivr.flow.entries import Strike
from ivr.flow.outcomes import CallInfo, CallResult, Outcome, Step
from ivr.flow.ports import (
    CallerHangup,
    CallLimiter,
    CapacityGuard,
    Channel,
    CredentialWriter,
    Digits,
    Directory,
    Keyed,
    PromptItem,
    Sound,
)
from ivr.flow.table import STEP_OF, TABLE, Action, Do, E, End, Event, S, State
from ivr.flow.timing import Timing
from sounds.catalog import Prompt
from store.types import Prepared, StoreUnavailable, Subscriber, Unit

# Once the outcome is decided the call deadline no longer applies (a "set" must stay "set");
# the goodbye and the after-call bookkeeping get bounds of their own.
GOODBYE_S = 60.0
AFTER_CALL_S = 10.0


class _Call:
    """One call's state; handlers return Events, TABLE decides. Holds the password only
    from its first entry until the store write (or a wrong confirmation)."""

    def __init__(
        self,
        call: CallInfo,
        channel: Channel,
        directory: Directory,
        store: CredentialWriter,
        limiter: CallLimiter,
        timing: Timing,
        capacity: CapacityGuard | None,
    ) -> None:
        self.call, self.channel, self.directory = call, channel, directory
        self.store, self.limiter, self.capacity = store, limiter, capacity
        self.entries = {
            S.MENU: entries.MENU.timed(timing),
            S.TARGET: entries.TARGET.timed(timing),
            S.PASSWORD: entries.PASSWORD.timed(timing),
            S.CONFIRM: entries.CONFIRM.timed(timing),
        }
        self.state = S.CALLER_CHECK
        self.step = Step.CALLER_CHECK
        self.strikes, self.after_strike, self.stale_keys = 0, False, False
        self.caller: str | None = call.caller_raw
        self.subscriber: Subscriber | None = None
        self.unit: Unit | None = None
        self.target: str | None = None
        self.first_entry: str | None = None
        self.preparing: asyncio.Future[Prepared] | None = None  # the first entry's verifier
        self.outcome: Outcome | None = None
        self.goodbye: list[PromptItem] = []
        self.answered = False
        self.sip_status: int | None = None  # the refusal's final response, when unanswered
        self.handlers: dict[State, Callable[[], Awaitable[Event]]] = {
            S.CALLER_CHECK: self.check_caller,
            S.MENU: self.menu,
            S.TARGET: self.target_entry,
            S.PASSWORD: self.password,
            S.CONFIRM: self.confirm,
            S.COMMIT: self.commit,
        }

    async def run(self) -> None:
        await self.channel.step(self.step.value)
        while self.state is not S.END:
            event = await self.handlers[self.state]()
            next_state, action = TABLE[(self.state, event)]
            if action is Do.ANSWER:
                await self.channel.answer()
                self.answered = True
            before = self.step
            self.apply(action, next_state)
            if self.state is not S.END and self.step is not before:
                await self.channel.step(self.step.value)

    def apply(self, action: Action, next_state: State) -> None:
        if isinstance(action, End):
            self.end(action.outcome, action.prompt, say_target=action.say_target)
            self.step = action.step or self.step
            self.sip_status = action.sip_status
            return
        if action in (Do.ADVANCE, Do.ANSWER):
            self.strikes = 0
        self.after_strike = action is Do.RETRY
        self.state, self.step = next_state, STEP_OF[next_state]

    def end(self, outcome: Outcome, prompt: Prompt | None, *, say_target: bool = False) -> None:
        self.state, self.outcome = S.END, outcome
        self.goodbye = [Digits(self.target)] if say_target and self.target else []
        self.goodbye += [Sound(prompt)] if prompt else []

    # --- state handlers: one piece of I/O each, named as an Event -------------------------

    async def check_caller(self) -> Event:
        caller_id = normalise(self.call.caller_raw)
        self.caller = caller_id.number or self.call.caller_raw
        log_call_start(self.call, self.caller)
        if self.capacity is not None and not self.capacity.admit():
            return E.OVER_CAPACITY
        if caller_id.number is None:
            return E.WITHHELD
        subscriber = await self.directory.lookup(caller_id.number)
        if subscriber is None or not subscriber.active:
            return E.NOT_SUBSCRIBED
        self.subscriber = subscriber
        try:
            admitted = await self.limiter.admit(caller_id.number)
        except StoreUnavailable:
            log_call_event("call.limiter_failed", self.call, level="warning")
            return E.STORE_FAILED
        return E.ADMITTED if admitted else E.LIMITED

    async def menu(self) -> Event:
        verdict = entries.judge_menu(await self.collect())
        if isinstance(verdict, Strike):
            return await self.strike(verdict)
        sub = self.contract_subscriber()
        self.unit = verdict
        if verdict is Unit.LINE:
            # The contract line itself must be an active number of this contract.
            line = await self.directory.find_in_contract(sub.contract_number, sub.contract_number)
            if line is None:
                return E.NOT_SUBSCRIBED
            self.target = line.number
        elif verdict is Unit.ADMIN_USER and not sub.is_contract:
            self.target = sub.number
        else:
            return E.TARGET_KEYED
        return E.TARGET_FIXED

    async def target_entry(self) -> Event:
        keyed = await self.collect()
        strike = entries.judge_target(keyed)
        if strike is not None:
            return await self.strike(strike)
        sub = self.contract_subscriber()
        found = await self.directory.find_in_contract(sub.contract_number, keyed.digits)
        if found is None or not found.active or found.contract_number != sub.contract_number:
            return await self.strike(Strike.NOT_IN_CONTRACT)
        self.target = found.number
        return E.ACCEPTED

    async def password(self) -> Event:
        keyed = await self.collect()
        strike = entries.judge_password(keyed)
        if strike is not None:
            return await self.strike(strike)
        self.first_entry = keyed.digits
        # Derive while the caller keys the confirmation (the store's low-priority pool), so
        # after a matching one only the write remains before 完了.
        self.preparing = asyncio.ensure_future(self.store.prepare(keyed.digits))
        return E.ACCEPTED

    async def confirm(self) -> Event:
        keyed = await self.collect()
        strike = entries.judge_confirm(self.first_entry or "", keyed)
        if strike is not None:
            self.drop_entry()  # back to the first entry
            return await self.strike(strike)
        return E.ACCEPTED

    def drop_entry(self) -> None:
        """Forget the first entry and its verifier (a mismatch, or the call ended)."""
        self.first_entry = None
        if self.preparing is not None:
            self.preparing.cancel()
            self.preparing = None

    async def commit(self) -> Event:
        preparing, self.preparing, self.first_entry = self.preparing, None, None
        sub = self.contract_subscriber()
        if preparing is None or self.target is None or self.unit is None or not self.caller:
            raise RuntimeError("commit reached without a complete entry")
        try:
            await self.store.set_prepared(
                self.target,
                await preparing,
                unit=self.unit,
                contract_number=sub.contract_number,
                set_by=self.caller,
                call_id=self.call.call_id,
            )
        except Exception as exc:  # any store failure: never claim "done"
            error = type(exc).__name__  # the type only: a message could echo arguments
            log_call_event("call.store_failed", self.call, level="warning", error=error)
            return E.STORE_FAILED
        return E.STORED

    # --- helpers --------------------------------------------------------------------------

    def contract_subscriber(self) -> Subscriber:
        if self.subscriber is None:
            raise RuntimeError(f"state {self.state} reached without a subscriber")
        return self.subscriber

    async def collect(self) -> Keyed:
        """Play the state's prompts and collect; remember whether keys may be left over."""
        entry = self.entries[self.state]
        if self.stale_keys:
            await self.channel.flush_keys()
            self.stale_keys = False
        keyed = await self.channel.collect(
            entry.prompts(self.target, after_strike=self.after_strike),
            max_digits=entry.max_digits,
            first_key_s=entry.first_key_s,
            inter_key_s=entry.inter_key_s,
        )
        # Ended at max_digits: keys after it are discarded before the next prompt.
        self.stale_keys = not keyed.terminated and not keyed.timed_out
        return keyed

    async def strike(self, reason: Strike) -> Event:
        self.strikes += 1
        self.stale_keys = True  # what was keyed after a wrong entry is not the retry's start
        log_strike(self.call, step=self.step, reason=reason, strikes=self.strikes)
        return E.LAST_STRIKE if self.strikes >= self.entries[self.state].tries else E.STRIKE

    async def say_goodbye(self) -> None:
        """Final message (no barge-in) and BYE; a caller leaving now changes no outcome.

        A call never answered is refused instead: the message as early media, then a final
        SIP status (503 when no refusal chose one, e.g. an error before the answer).
        """
        try:
            async with asyncio.timeout(GOODBYE_S):
                if not self.answered:
                    await self.channel.refuse(self.goodbye, sip_status=self.sip_status or 503)
                    return
                if self.goodbye:
                    try:
                        await self.channel.play(self.goodbye)
                    except CallerHangup:
                        raise
                    except Exception as exc:
                        self.warn("call.goodbye_failed", exc)
                await self.channel.hangup()
        except CallerHangup:
            pass
        except Exception as exc:
            self.warn("call.hangup_failed", exc)

    async def record_failure(self) -> None:
        if not self.caller:
            return
        try:
            async with asyncio.timeout(AFTER_CALL_S):
                await self.limiter.record_failure(self.caller)
        except Exception as exc:
            self.warn("call.record_failure_failed", exc)

    def warn(self, event: str, exc: BaseException) -> None:
        """Log an error by type and state only: a message could echo what was keyed."""
        log_call_event(
            event, self.call, level="warning", error=type(exc).__name__, state=str(self.state)
        )


async def run_call(
    call: CallInfo,
    channel: Channel,
    directory: Directory,
    store: CredentialWriter,
    limiter: CallLimiter,
    timing: Timing,
    *,
    capacity: CapacityGuard | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CallResult:
    """Run one call from caller check to hang-up; never raises except on cancellation.

    Logs call.start and call.strike; the caller logs call.end (ivr.flow.calllog.log_call_end).
    """
    started = clock()
    flow = _Call(call, channel, directory, store, limiter, timing, capacity)
    caller_gone = False
    deadline = asyncio.timeout(timing.max_call_s)
    try:
        async with deadline:
            await flow.run()
    except CallerHangup:
        caller_gone = True
        flow.end(Outcome.ABANDONED, None)
    except TimeoutError as exc:
        if deadline.expired():
            flow.end(Outcome.TIMEOUT_CALL, Prompt.CALL_TOO_LONG)
        else:
            flow.warn("call.error", exc)
            flow.end(Outcome.ERROR_INTERNAL, Prompt.SORRY)
    except Exception as exc:
        flow.warn("call.error", exc)
        flow.end(Outcome.ERROR_INTERNAL, Prompt.SORRY)
    finally:
        flow.drop_entry()
    if not caller_gone:
        await flow.say_goodbye()
    if flow.outcome is Outcome.FAILED_STRIKES:
        await flow.record_failure()
    return CallResult(
        outcome=flow.outcome or Outcome.ERROR_INTERNAL,
        step=flow.step,
        strikes=flow.strikes,
        unit=flow.unit,
        target=flow.target,
        caller=flow.caller,
        duration_ms=max(0, int((clock() - started) * 1000)),
        answered=flow.answered,
    )
