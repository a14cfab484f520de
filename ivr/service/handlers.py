"""The FastAGI scripts this service answers: the dial-in itself, and the end-of-call report.

`tmp-password` runs the call flow; its call.end line is logged here. `call-end` runs from
the dialplan's hangup handler on every call; it logs call.end only for a call the flow never
saw (a caller gone before AGI started, the server unreachable when the call came, or every
server refusing it at IVR_AGI_MAX_CALLS), so every call leaves exactly one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from agi.server import AgiCall
from ivr.agi_channel import AgiChannel
from ivr.config import variables as var
from ivr.flow.call import run_call
from ivr.flow.callerid import normalise
from ivr.flow.calllog import log_call_end
from ivr.flow.outcomes import CallInfo, CallResult, Outcome, Step
from ivr.flow.ports import CallLimiter, CredentialWriter, Directory
from ivr.flow.timing import Timing
from ivr.service.admission import Admission, RecentCalls
from ivr.service.metrics import Metrics

# Refusals counted in ivr_rejections_total, by the outcome that says why.
REJECTION_OF = {
    Outcome.REJECTED_ANONYMOUS: "anonymous",
    Outcome.REJECTED_NOT_SUBSCRIBED: "not_subscribed",
    Outcome.REJECTED_RATE_LIMITED: "rate_limited",
    Outcome.REJECTED_CAPACITY: "capacity",
}
# Commands that wait for the caller (prompts, key entry) are not AGI turnaround.
_CALLER_PACED = frozenset(
    {"STREAM FILE", "EXEC", "GOSUB", "WAIT FOR DIGIT", "SAY DIGITS", "GET DATA"}
)


@dataclass
class Service:
    """What every call shares: the ports the flow needs and the server's bookkeeping."""

    directory: Directory
    store: CredentialWriter
    limiter: CallLimiter
    timing: Timing
    admission: Admission
    metrics: Metrics
    early_media: bool = True
    seen: RecentCalls | None = None

    def __post_init__(self) -> None:
        self.seen = self.seen or RecentCalls()

    def call_ended(self, info: CallInfo, result: CallResult, *, counted: bool = False) -> None:
        """counted: its refusal is in ivr_rejections_total already (at each server's cap)."""
        log_call_end(info, result, result.duration_ms)
        self.metrics.observe_call_end(result.outcome)
        if counted:
            return
        if (reason := REJECTION_OF.get(result.outcome)) is not None:
            self.metrics.rejection(reason)
        elif result.outcome is Outcome.ERROR_STORE and not result.answered:
            self.metrics.rejection("store_down")


class _Timed:
    """AGI commands timed into ivr_agi_command_seconds (caller-paced ones excepted)."""

    def __init__(self, call: AgiCall, metrics: Metrics) -> None:
        self._call, self._metrics = call, metrics

    async def command(self, verb: str, *args: str | int):  # noqa: ANN201 (agi.wire.Reply)
        if verb in _CALLER_PACED:
            return await self._call.command(verb, *args)
        with self._metrics.time_agi_command():
            return await self._call.command(verb, *args)


def tmp_password(service: Service):
    async def handle(call: AgiCall) -> None:
        info = CallInfo(
            call_id=call.env.uniqueid or "",
            caller_raw=call.env.callerid,
            did=call.env.extension or "",
        )
        assert service.seen is not None
        service.seen.add(info.call_id)
        channel = AgiChannel(_Timed(call, service.metrics), early_media=service.early_media)
        service.admission.in_progress += 1
        try:
            with service.metrics.call_in_progress():
                result = await run_call(
                    info,
                    channel,
                    service.directory,
                    service.store,
                    service.limiter,
                    service.timing,
                    capacity=service.admission,
                )
        finally:
            service.admission.in_progress -= 1
        service.call_ended(info, result)

    return handle


def call_end(service: Service):
    """agi_arg_2: the main AGI's status ("" when it never ran); agi_arg_3: the call's ms so
    far; agi_arg_4: the DID; agi_arg_5: non-empty when a server refused the call at its cap;
    agi_arg_6: the step the flow announced (agi_arg_1 is the shared secret). Main status
    LOST: the caller was answered, then the flow's server died."""

    async def handle(call: AgiCall) -> None:
        env = call.env
        assert service.seen is not None
        if env.uniqueid in service.seen:
            return
        service.seen.add(env.uniqueid)
        main_status, busy = env.get("agi_arg_2"), bool(env.get("agi_arg_5"))
        lost = main_status == var.AGI_LOST  # answered, then its server died: at agi_arg_6
        failed = main_status == "FAILURE" or lost
        outcome = Outcome.ERROR_INTERNAL if failed else Outcome.ABANDONED
        if busy and main_status == "FAILURE":
            outcome = Outcome.REJECTED_CAPACITY
        raw = env.callerid
        try:
            duration_ms = max(0, int(float(env.get("agi_arg_3") or 0)))
        except ValueError:
            duration_ms = 0
        info = CallInfo(call_id=env.uniqueid, caller_raw=raw, did=env.get("agi_arg_4"))
        caller = normalise(raw).number or raw
        step = _step(env.get("agi_arg_6")) if lost else Step.CALLER_CHECK
        result = CallResult(outcome, step, 0, None, None, caller, duration_ms, answered=lost)
        service.call_ended(info, result, counted=outcome is Outcome.REJECTED_CAPACITY)

    return handle


def _step(name: str) -> Step:
    try:
        return Step(name)
    except ValueError:
        return Step.CALLER_CHECK
