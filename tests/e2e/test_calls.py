"""The dial-in as subscribers do it: SIPp calls through real Asterisk, keys as RFC 4733 events.

All calls run at once (one SIPp each); the keys barge into the prompts rather than waiting for
them. Each call has its own caller number, so its `call.end` line and its store record are
its own. Afterwards the web site's check (`ivrctl tpw verify`) must accept the password.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from ivr.flow.calllog import CALL_END_FIELDS, LogLine
from loadgen.rtp_pcap import KeyPress, keys_at
from loadgen.sipp import CallOutcome, CallSpec, run_call

pytestmark = pytest.mark.e2e

WEST, EAST = "0664806430", "0363044747"
GAP_S = 0.3  # between the keys of one entry


def keys(*groups: tuple[float, str]) -> list[KeyPress]:
    """Entries as (seconds after the previous entry's last key, keys)."""
    presses: list[KeyPress] = []
    at = 0.0
    for delay, group in groups:
        start = at + delay
        presses += keys_at(start, group, GAP_S)
        at = start + GAP_S * (len(group) - 1)
    return presses


def entry(*groups: tuple[float, str]) -> list[tuple[float, str]]:
    return list(groups)


@dataclass(frozen=True)
class Case:
    name: str
    caller: str  # the From user part
    schedule: list[KeyPress] = field(default_factory=list)
    did: str = WEST
    pai: str | None = None
    privacy: str | None = None
    hangup_after_s: float | None = None
    # expectations
    outcome: str = "set"
    step: str = "done"
    strikes: int = 0
    unit: str | None = None
    target: str | None = None
    logged_caller: str | None = None
    password: str | None = None  # the one the web site must accept afterwards
    refused: int | None = None  # the final SIP status of a refusal before answer
    timeout_s: float = 60.0


PW = {
    "a": "58291746",
    "b": "61830492",
    "c": "90417263",
    "d": "83620514",
    "e": "47096138",
    "f": "64829305",
    "g": "52718093",
    "rep": "11223344",
    "bad": "11223355",
    "ninth": "77553311",
    "h": "80459162",
    "i": "69372840",
}


def full(menu: str, pw: str, target: str | None = None) -> list[KeyPress]:
    groups = [(1.0, menu)]
    if target:
        groups.append((1.0, target + "#"))
    groups += [(1.5, pw), (1.5, pw)]
    return keys(*groups)


CASES = [
    Case(
        "unit1_contract",
        "0310000001",
        full("1", PW["a"]),
        unit="line",
        target="0310000001",
        password=PW["a"],
    ),
    Case(
        "unit1_additional_east",
        "0320000002",
        full("1", PW["b"]),
        did=EAST,
        unit="line",
        target="0320000001",
        password=PW["b"],
    ),
    Case(
        "unit2_same_contract",
        "0330000001",
        full("2", PW["c"], "0330000003"),
        unit="number",
        target="0330000003",
        password=PW["c"],
    ),
    Case(
        "unit2_foreign_then_correct",
        "0340000002",
        keys(
            (1.0, "2"), (1.0, "0310000002#"), (1.5, "0340000001#"), (1.5, PW["d"]), (1.5, PW["d"])
        ),
        unit="number",
        target="0340000001",
        password=PW["d"],
    ),
    Case(
        "unit3_contract",
        "0350000001",
        full("3", PW["e"], "0350000002"),
        unit="admin_user",
        target="0350000002",
        password=PW["e"],
    ),
    Case(
        "unit3_additional",
        "0360000002",
        full("3", PW["f"]),
        unit="admin_user",
        target="0360000002",
        password=PW["f"],
    ),
    Case(
        "menu_three_wrong",
        "0370000001",
        keys((1.0, "4"), (1.0, "0"), (1.0, "*")),
        outcome="failed_strikes",
        step="menu",
        strikes=3,
    ),
    Case(
        "three_bad_passwords",
        "0380000001",
        keys((1.0, "1"), (1.0, "1234#"), (1.5, "12*45678"), (1.5, "12345")),
        outcome="failed_strikes",
        step="password",
        strikes=3,
        unit="line",
        target="0380000001",
    ),
    Case(
        "mismatch_then_success",
        "0390000001",
        keys((1.0, "1"), (1.5, PW["rep"]), (1.5, PW["bad"]), (1.5, PW["rep"]), (1.5, PW["rep"])),
        unit="line",
        target="0390000001",
        password=PW["rep"],
    ),
    Case("no_keys", "0410000001", outcome="failed_strikes", step="menu", strikes=3, timeout_s=140),
    Case("anonymous", "anonymous", outcome="rejected_anonymous", step="caller_check", refused=433),
    Case(
        "not_subscribed",
        "0499999999",
        outcome="rejected_not_subscribed",
        step="caller_check",
        refused=403,
    ),
    Case(
        "plus81_caller",
        "+81420000001",
        full("1", PW["g"]),
        unit="line",
        target="0420000001",
        logged_caller="0420000001",
        password=PW["g"],
    ),
    Case(
        "pai_with_privacy",
        "anonymous",
        full("1", PW["h"]),
        pai="0430000001",
        privacy="id",
        unit="line",
        target="0430000001",
        logged_caller="0430000001",
        password=PW["h"],
    ),
    Case("hangup_at_menu", "0440000001", hangup_after_s=2.0, outcome="abandoned", step="menu"),
    Case(
        "hangup_at_target",
        "0450000001",
        keys((1.0, "2"), (1.0, "045")),
        hangup_after_s=4.5,
        outcome="abandoned",
        step="target",
        unit="number",
    ),
    Case(
        "hangup_at_password",
        "0460000001",
        keys((1.0, "1"), (1.0, "1234")),
        hangup_after_s=4.5,
        outcome="abandoned",
        step="password",
        unit="line",
        target="0460000001",
    ),
    Case(
        "hangup_at_confirmation",
        "0470000001",
        keys((1.0, "1"), (1.5, PW["i"]), (1.5, "12")),
        hangup_after_s=7.5,
        outcome="abandoned",
        step="password",
        unit="line",
        target="0470000001",
    ),
    Case(
        "ninth_key_discarded",
        "0480000001",
        keys((1.0, "1"), (1.5, PW["ninth"] + "9"), (1.5, PW["ninth"])),
        unit="line",
        target="0480000001",
        password=PW["ninth"],
    ),
]

# Every directory number the calls use: contract number first in each contract.
SUBSCRIBERS = """contract_number,number,region,active
0310000001,0310000001,east,1
0310000001,0310000002,east,1
0320000001,0320000001,east,1
0320000001,0320000002,east,1
0330000001,0330000001,east,1
0330000001,0330000002,east,1
0330000001,0330000003,east,1
0340000001,0340000001,east,1
0340000001,0340000002,east,1
0350000001,0350000001,west,1
0350000001,0350000002,west,1
0360000001,0360000001,west,1
0360000001,0360000002,west,1
0370000001,0370000001,,1
0380000001,0380000001,,1
0390000001,0390000001,,1
0410000001,0410000001,,1
0420000001,0420000001,,1
0430000001,0430000001,,1
0440000001,0440000001,,1
0450000001,0450000001,,1
0460000001,0460000001,,1
0470000001,0470000001,,1
0480000001,0480000001,,1
0490000001,0490000001,,1
0499999998,0499999998,,0
"""

RATE_CALLER = "0490000001"  # calls more often than the test stack allows (3 per window)


def _spec(case: Case) -> CallSpec:
    return CallSpec(
        did=case.did,
        caller_from=case.caller,
        pai=case.pai,
        privacy=case.privacy,
        schedule=case.schedule,
        hangup_after_s=case.hangup_after_s,
        expect_service_bye=case.hangup_after_s is None and case.refused is None,
        refused_with=case.refused,
        timeout_s=case.timeout_s,
    )


async def _place_all(stack, workdir) -> tuple[dict[str, CallOutcome], list[CallOutcome]]:
    async def rate_limited_series() -> list[CallOutcome]:
        quick = CallSpec(
            did=WEST,
            caller_from=RATE_CALLER,
            hangup_after_s=1.5,
            expect_service_bye=False,
            timeout_s=20,
        )
        done = [await run_call(quick, "127.0.0.1", stack.sip_port, workdir) for _ in range(3)]
        last = CallSpec(
            did=WEST,
            caller_from=RATE_CALLER,
            timeout_s=30,
            refused_with=486,
            expect_service_bye=False,
        )
        return [*done, await run_call(last, "127.0.0.1", stack.sip_port, workdir)]

    results = await asyncio.gather(
        rate_limited_series(),
        *(run_call(_spec(c), "127.0.0.1", stack.sip_port, workdir) for c in CASES),
    )
    return {c.name: r for c, r in zip(CASES, results[1:], strict=True)}, results[0]


def call_ends(stack, caller: str) -> list[LogLine]:
    """This caller's call.end lines."""
    return [e for e in stack.log_lines() if e.end is not None and e.end.caller == caller]


@pytest.fixture(scope="module")
def placed(stack, tmp_path_factory):
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    calls, series = asyncio.run(_place_all(stack, tmp_path_factory.mktemp("sipp")))
    return calls, series


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_call(stack, placed, case):
    calls, _ = placed
    result = calls[case.name]
    assert result.ok, result.describe()
    caller = case.logged_caller or case.caller
    lines = call_ends(stack, caller)
    assert len(lines) == 1, lines
    end = lines[0].end
    assert end is not None
    assert (end.outcome, end.step, end.strikes, end.unit, end.target, end.did) == (
        case.outcome, case.step, case.strikes, case.unit, case.target, case.did,
    )  # fmt: skip
    assert set(lines[0].data) >= set(CALL_END_FIELDS)  # every field written, none defaulted
    assert end.answered is (case.refused is None)  # a refused caller is never charged
    if case.password:
        ok = stack.ivrctl("tpw", "verify", case.target, case.password, check=False)
        assert (ok.returncode, ok.stdout.split()[0]) == (0, "ok")
        other = stack.ivrctl("tpw", "verify", case.target, "00000000", check=False)
        assert (other.returncode, other.stdout.split()[0]) == (1, "wrong")
        shown = json.loads(stack.ivrctl("tpw", "show", case.target).stdout)
        assert (shown["unit"], shown["set_by"], shown["state"]) == (case.unit, caller, "valid")
    elif case.target:
        none = stack.ivrctl("tpw", "show", case.target, check=False)
        assert (none.returncode, none.stdout.strip()) == (1, "none")


def test_rate_limited_after_too_many_calls(stack, placed):
    _, series = placed
    assert all(r.ok for r in series), [r.describe() for r in series if not r.ok]
    outcomes = [e.end.outcome for e in call_ends(stack, RATE_CALLER) if e.end is not None]
    assert outcomes == ["abandoned"] * 3 + ["rejected_rate_limited"]


def test_every_prompt_file_was_found(stack, placed):
    messages = (stack.state_dir / "asterisk" / "log" / "messages.log").read_text()
    assert "does not exist" not in messages
    assert "Unable to open" not in messages


def test_no_password_anywhere_on_disk(stack, placed):
    used = set(PW.values()) | {"12345", "1234#", "12*45678"}
    leaks = []
    for path in stack.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [(str(path), pw) for pw in used if len(pw) >= 8 and pw.encode() in data]
    assert leaks == []
