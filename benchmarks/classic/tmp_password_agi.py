#!/usr/bin/python3
"""Capacity benchmark (c), the classic deployment: the unit-1 dial-in as one process per call.

Asterisk starts this script for every call (`AGI(/ivr/classic/tmp_password_agi.py)`). It
speaks AGI through pyst2's blocking `AGI()` and uses the service's store library (copied by
benchmarks.classic.install), sending the AGI commands the service's flow sends for a unit-1
call, so only the process model differs. Outside a unit-1 call that sets a password: a
refused caller is hung up (no early media), menu keys 2 and 3 are strikes, and the maximum
length is the dialplan's TIMEOUT(absolute). Keys, password and verifier go to the store only:
pyst2's trace goes to /dev/null, errors are logged by type name.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asterisk.agi import AGI, AGIAppError, AGIError, AGIHangup, AGIUnknownError
from callerid import normalise  # the service's ivr/flow/callerid.py, copied by install

from store.credentials import CredentialStore
from store.directory import Directory
from store.limits import CallLimiter, Limits
from store.pepper import load as load_pepper
from store.redisconn import connect
from store.types import PASSWORD_LENGTH, StoreUnavailable, Unit

CONFIG = Path(__file__).resolve().with_name("config.json")
KEYS, READ_STATUS, STEP = "IVRKEYS", "READSTATUS", "IVR_STEP"  # ivr.config.variables
# Prompt ids of sounds.catalog.Prompt (tests/benchmarks checks they agree).
UNIT_MENU, PASSWORD_INTRO, ASK_PASSWORD = "tpw/unit_menu", "tpw/password_intro", "tpw/ask_password"
ASK_CONFIRM, DONE, INVALID = "tpw/ask_confirm", "tpw/done", "tpw/invalid"
START_AGAIN, NOT_SUBSCRIBED, SORRY = "tpw/start_again", "tpw/not_subscribed", "tpw/sorry"
FLUSH_WAIT_MS, FLUSH_MAX_ROUNDS = 400, 20  # ivr.agi_channel.flush_keys


class CallerGone(Exception):  # SIGHUP, a -1 result, 511, or EOF on stdin
    pass


class Ended(Exception):
    """The outcome is decided: what to play before hanging up (nothing when unanswered)."""

    def __init__(self, outcome: str, prompts: list[str] | None = None) -> None:
        super().__init__(outcome)
        self.outcome, self.prompts = outcome, prompts or []


@dataclass(frozen=True)
class Keyed:
    """One entry as ivr.flow.ports.Keyed: the digits and how keying ended."""

    digits: str
    terminated: bool = False  # `#` before max_digits
    timed_out: bool = False  # the inter-key (or first-key) timer ended it


def seconds(value: float) -> str:
    """10.0 → "10", 2.5 → "2.5": the form TIMEOUT() reads (ivr.agi_channel._seconds)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def judge_password(keyed: Keyed) -> str | None:
    """ivr.flow.entries.judge_password: exactly 8 digits, else the strike's reason."""
    if keyed.digits == "" and not keyed.terminated:
        return "no_input"
    if keyed.digits and not (keyed.digits.isdigit() and keyed.digits.isascii()):
        return "invalid_key"
    return "bad_length" if len(keyed.digits) != PASSWORD_LENGTH else None


def judge_menu(keyed: Keyed) -> str | None:
    """Unit 1 only: "1" passes; no key and any other key are strikes."""
    if keyed.digits == "" and not keyed.terminated:
        return "no_input"
    return None if keyed.digits == "1" else "invalid_key"


def judge_confirm(first: str, keyed: Keyed) -> str | None:
    strike = judge_password(keyed)
    if strike is None and not hmac.compare_digest(first.encode(), keyed.digits.encode()):
        return "mismatch"
    return strike


class Call:
    """One call, top to bottom; the same commands, in the same order, as the service."""

    def __init__(
        self, agi: AGI, cfg: dict[str, Any], directory: Directory, run: Any, store: Any,
        limiter: Any,
    ) -> None:  # fmt: skip
        self.agi, self.cfg, self.directory = agi, cfg, directory
        self.run_async, self.store, self.limiter = run, store, limiter
        self.step, self.strikes, self.answered = "caller_check", 0, False
        self.after_strike = self.stale_keys = False
        self.caller: str | None = agi.env.get("agi_callerid")
        self.unit: str | None = None
        self.target: str | None = None
        self.timeouts: dict[str, str] = {}

    def cmd(self, method: Any, *args: Any) -> Any:
        """A pyst2 call; every form of "the channel is gone" becomes CallerGone."""
        try:
            return method(*args)
        except (AGIHangup, AGIAppError) as exc:
            raise CallerGone(type(exc).__name__) from None
        except AGIUnknownError as exc:
            if exc.args and exc.args[0] == 511:  # command on a dead channel
                raise CallerGone("511") from None
            raise
        except ValueError:  # pyst2 parsing EOF or a HANGUP line as a reply
            raise CallerGone("eof") from None

    def announce(self, step: str) -> None:
        """ivr.agi_channel.step: one SET VARIABLE; a refused one does not end the call."""
        self.step = step
        try:
            self.cmd(self.agi.set_variable, STEP, step)
        except AGIError:
            pass

    def run(self) -> None:
        """Raises Ended with the outcome (or CallerGone)."""
        self.announce("caller_check")
        number = normalise(self.caller).number
        if number is None:
            raise Ended("rejected_anonymous")
        self.caller = number
        sub = self.directory.lookup(number)
        if sub is None or not sub.active:
            raise Ended("rejected_not_subscribed")
        try:
            admitted = self.run_async(self.limiter.admit(number))
        except StoreUnavailable:
            raise Ended("error_store") from None
        if not admitted:
            raise Ended("rejected_rate_limited")
        self.cmd(self.agi.answer)
        self.answered = True
        self.announce("menu")
        while strike := judge_menu(self.collect([UNIT_MENU], 1)):
            self.strike(strike)
        self.unit = Unit.LINE.value
        line = self.directory.find_in_contract(sub.contract_number, sub.contract_number)
        if line is None:
            raise Ended("rejected_not_subscribed", [NOT_SUBSCRIBED])
        self.target = line.number
        self.advance("password")
        password = self.password_twice()
        self.advance("commit")
        try:
            self.run_async(
                self.store.set_temporary(
                    self.target, password, unit=Unit.LINE, contract_number=sub.contract_number,
                    set_by=self.caller, call_id=self.agi.env.get("agi_uniqueid", ""),
                )
            )  # fmt: skip
        except Exception:  # any store failure: never claim "done"
            raise Ended("error_store", [SORRY]) from None
        self.step = "done"
        raise Ended("set", [f"digits:{self.target}", DONE])

    def password_twice(self) -> str:
        """The password and its confirmation: one step; a wrong entry goes back to the first."""
        read_back = [f"digits/{d}" for d in self.target or ""]
        while True:
            keyed = self.collect([*read_back, PASSWORD_INTRO, ASK_PASSWORD], PASSWORD_LENGTH)
            if strike := judge_password(keyed):
                self.strike(strike)
                continue
            self.after_strike = False  # password → confirmation: strikes carry on
            confirm = self.collect([ASK_CONFIRM], PASSWORD_LENGTH)
            if strike := judge_confirm(keyed.digits, confirm):
                self.strike(strike)
                continue
            return keyed.digits

    def advance(self, step: str) -> None:
        self.strikes, self.after_strike = 0, False
        self.announce(step)

    def strike(self, reason: str) -> None:
        """Counted like ivr.flow.call.strike (the reason is not logged here)."""
        self.strikes += 1
        self.stale_keys = self.after_strike = True
        if self.strikes >= self.cfg["tries"]:
            raise Ended("failed_strikes", [START_AGAIN])

    def collect(self, files: list[str], max_digits: int) -> Keyed:
        """ivr.agi_channel.collect: one Read() plays every file with barge-in and takes the keys."""
        if self.stale_keys:
            for _ in range(FLUSH_MAX_ROUNDS):
                if not self.cmd(self.agi.wait_for_digit, FLUSH_WAIT_MS):
                    break
            self.stale_keys = False
        files = [INVALID, *files] if self.after_strike else files
        self.set_timeout("response", self.cfg["first_key_s"])
        self.set_timeout("digit", self.cfg["inter_key_s"])
        self.cmd(self.agi.appexec, "Read", f"{KEYS},{'&'.join(files)},{max_digits}")
        both = self.cmd(self.agi.get_full_variable, f"${{{KEYS}}}|${{{READ_STATUS}}}") or ""
        value, _, status = both.partition("|")
        if status == "TIMEOUT":
            keyed = Keyed(value, timed_out=True)
        elif status == "OK":
            keyed = Keyed(value, terminated=len(value) < max_digits)
        elif status == "HANGUP":
            raise CallerGone("Read")
        else:
            raise RuntimeError(f"Read() ended with status {status or 'unset'}")
        self.stale_keys = not keyed.terminated and not keyed.timed_out
        return keyed

    def set_timeout(self, which: str, value: float) -> None:
        text = seconds(value)
        if self.timeouts.get(which) != text:
            self.cmd(self.agi.set_variable, f"TIMEOUT({which})", text)
            self.timeouts[which] = text

    def goodbye(self, prompts: list[str]) -> None:
        """Final prompts without barge-in, then HANGUP (an unanswered call: HANGUP only)."""
        try:
            for item in prompts if self.answered else []:
                if item.startswith("digits:"):
                    self.cmd(self.agi.say_digits, item.removeprefix("digits:"))
                else:
                    self.cmd(self.agi.stream_file, item)
            self.cmd(self.agi.hangup)
        except CallerGone:
            pass


def read_secret(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def append_line(path: str, record: dict[str, Any]) -> None:
    """One call.end line: O_APPEND and one write, so concurrent calls never interleave."""
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def handle(call: Call) -> tuple[str, str | None]:
    """Run the call to its end: (outcome, the error's type name or None)."""
    try:
        call.run()
    except Ended as end:
        call.goodbye(end.prompts)
        outcome = end.outcome
    except CallerGone:
        return "abandoned", None
    except Exception as exc:  # the type only: a message could echo arguments
        call.goodbye([SORRY])
        return "error_internal", type(exc).__name__
    if outcome == "failed_strikes" and call.caller:
        try:
            call.run_async(call.limiter.record_failure(call.caller))
        except Exception as exc:
            return outcome, type(exc).__name__
    return outcome, None


def main() -> int:
    started = time.monotonic()
    cfg = json.loads(CONFIG.read_text(encoding="utf-8"))
    agi = AGI(stderr=open(os.devnull, "w"))  # pyst2 traces every reply, keys included
    outcome, error, call = "error_internal", None, None
    with asyncio.Runner() as runner:
        redis = connect(cfg["redis_url"], password=read_secret(cfg["redis_password_file"]))
        directory = Directory.from_url(cfg["database_url"])
        try:
            pepper = load_pepper(Path(cfg["pepper_file"]))
            replicas = {k: cfg[k] for k in ("replicas", "replica_timeout_ms")}
            store = CredentialStore(redis, pepper, **replicas)
            limiter = CallLimiter(redis, Limits(**cfg["limits"]))
            call = Call(agi, cfg, directory, runner.run, store, limiter)
            outcome, error = handle(call)
        except Exception as exc:
            error = type(exc).__name__
        finally:
            directory.close()
            runner.run(redis.aclose())
    if error:
        print(f"tmp_password_agi: {outcome}: {error}", file=sys.stderr)
    append_line(cfg["calls_log"], call_end(agi, call, outcome, error, started))
    return 0


def call_end(agi: AGI, call: Call | None, outcome: str, error: str | None, started: float):
    """call.end's fields (ivr.flow.calllog.CallEnd), its source, its CPU and any error."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record = {
        "event": "call.end",
        "call_id": agi.env.get("agi_uniqueid", ""),
        "caller": call.caller if call else agi.env.get("agi_callerid"),
        "did": agi.env.get("agi_extension", ""),
        "unit": call.unit if call else None,
        "target": call.target if call else None,
        "outcome": outcome,
        "step": call.step if call else "caller_check",
        "strikes": call.strikes if call else 0,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "answered": call.answered if call else False,
        "cpu_ms": round(1000 * (usage.ru_utime + usage.ru_stime), 1),  # this process's own
        "level": "warning" if error else "info",
        "source": "classic",
        "timestamp": datetime.now().astimezone().isoformat(timespec="milliseconds"),
    }
    return {**record, "error": error} if error else record


if __name__ == "__main__":
    raise SystemExit(main())
