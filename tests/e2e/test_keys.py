"""Keys however a phone sends them: in-band tones (μ-law, A-law) and SIP INFO, whole dial-ins.

Subscribers' equipment sends keys three ways; RFC 4733 events are test_calls.py's. Here
every other transport does the whole dial-in (unit 1 from the subscriber's own line, the
password twice) and the web site's check must then accept the password. Per transport:
  - a password of repeated keys (a detector or a retransmission filter that merges two equal
    keys in a row fails it);
  - a second call that keys `*` and `#` at the menu (two `invalid_key` strikes, from the call
    log) and then a password with 5-9 and 0, so each of the twelve keys is proven.
In-band tones are at telephone send levels, 70 ms tone / 70 ms gap, and 40 ms / 40 ms: the
shortest tone and pause a receiver must accept (ITU-T Q.24).
One more call sends tones while RFC 4733 is negotiated: Asterisk listens for events only
and ignores them (docs/keys.md), so the menu ends in a `no_input` strike.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from loadgen.rtp_pcap import KeyPress, keys_at
from loadgen.sipp import CallOutcome, CallSpec, run_call
from tests.stackutil import ends_and_strikes

pytestmark = pytest.mark.e2e

WEST = "0664806430"


@dataclass(frozen=True)
class Transport:
    name: str
    keys_as: str
    codec: str = "PCMU"
    tone_ms: int = 70
    gap_s: float = 0.3  # from one key's start to the next
    repeated: str = ""  # password of repeated keys (digits 1-4)
    every: str = ""  # password with 5-9 and 0


TRANSPORTS = [
    Transport("inband_ulaw_70ms", "inband", "PCMU", 70, 0.14, "11223344", "56789900"),
    Transport("inband_alaw_70ms", "inband", "PCMA", 70, 0.14, "33441122", "00998765"),
    Transport("inband_ulaw_40ms", "inband", "PCMU", 40, 0.08, "44332211", "65870099"),
    Transport("inband_alaw_40ms", "inband", "PCMA", 40, 0.08, "22114433", "90785566"),
    Transport("info_dtmf_relay", "info-dtmf-relay", repeated="13132424", every="78569090"),
    Transport("info_dtmf", "info-dtmf", repeated="42421313", every="05967788"),
]


def _caller(index: int, call: int) -> str:
    """Distinct subscriber numbers: 05<transport>000000<call>."""
    return f"05{index + 1}000000{call}"


def _schedule(t: Transport, groups: list[tuple[float, str]]) -> list[KeyPress]:
    """Entries as (seconds after the previous entry's last key, keys)."""
    presses: list[KeyPress] = []
    at = 0.0
    for delay, group in groups:
        start = at + delay
        presses += keys_at(start, group, t.gap_s)
        at = start + t.gap_s * (len(group) - 1)
    return presses


@dataclass(frozen=True)
class Call:
    transport: Transport
    caller: str
    schedule: list[KeyPress]
    password: str
    menu_strikes: int


def _calls() -> list[Call]:
    calls = []
    for i, t in enumerate(TRANSPORTS):
        repeated = [(1.0, "1"), (1.5, t.repeated), (1.5, t.repeated)]
        every = [(1.0, "*"), (1.5, "#"), (1.5, "1"), (1.5, t.every), (1.5, t.every)]
        calls.append(Call(t, _caller(i, 1), _schedule(t, repeated), t.repeated, 0))
        calls.append(Call(t, _caller(i, 2), _schedule(t, every), t.every, 2))
    return calls


CALLS = _calls()
SUBSCRIBERS = "contract_number,number\n" + "".join(f"{c.caller},{c.caller}\n" for c in CALLS)
assert {p.key for c in CALLS for p in c.schedule} == set("0123456789*#")


# Tones keyed while telephone-event is negotiated; the caller hangs up once the menu prompt
# (19 s) and the first-key wait (4 s) are over.
TONES_WITH_EVENTS = CallSpec(
    did=WEST,
    caller_from="0570000001",
    schedule=keys_at(1.0, "11", 4.0),
    keys_as="inband",
    offer_events=True,
    hangup_after_s=28,
    expect_service_bye=False,
    timeout_s=60,
)
SUBSCRIBERS += "0570000001,0570000001\n"


def _spec(call: Call) -> CallSpec:
    t = call.transport
    return CallSpec(
        did=WEST,
        caller_from=call.caller,
        schedule=call.schedule,
        keys_as=t.keys_as,
        codec=t.codec,
        tone_ms=t.tone_ms,
        timeout_s=90,
    )


@pytest.fixture(scope="module")
def placed(stack, tmp_path_factory) -> dict[str, CallOutcome]:
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    workdir = tmp_path_factory.mktemp("sipp")

    specs = [*map(_spec, CALLS), TONES_WITH_EVENTS]

    async def place_all() -> list[CallOutcome]:
        return await asyncio.gather(
            *(run_call(s, "127.0.0.1", stack.sip_port, workdir) for s in specs)
        )

    return {s.caller_from: r for s, r in zip(specs, asyncio.run(place_all()), strict=True)}


@pytest.mark.parametrize(
    "call", CALLS, ids=lambda c: f"{c.transport.name}-{'every' if c.menu_strikes else 'rep'}"
)
def test_dial_in_sets_a_password_that_verifies(stack, placed, call):
    result = placed[call.caller]
    assert result.ok, result.describe()
    ends, strikes = ends_and_strikes(stack.log_lines(), call.caller)
    assert [(e.outcome, e.step, e.unit, e.target) for e in ends] == [
        ("set", "done", "line", call.caller)
    ]
    assert [(s.step, s.reason) for s in strikes] == [("menu", "invalid_key")] * call.menu_strikes
    ok = stack.ivrctl("tpw", "verify", call.caller, "-", stdin=call.password, check=False)
    assert (ok.returncode, ok.stdout.split()[0]) == (0, "ok")
    wrong = stack.ivrctl("tpw", "verify", call.caller, "-", stdin="12345678", check=False)
    assert (wrong.returncode, wrong.stdout.split()[0]) == (1, "wrong")


def test_tones_are_ignored_while_rfc4733_is_negotiated(stack, placed):
    result = placed[TONES_WITH_EVENTS.caller_from]
    assert result.ok, result.describe()
    assert "telephone-event" in (result.workdir / "uac.xml").read_text()
    ends, strikes = ends_and_strikes(stack.log_lines(), "0570000001")
    assert [(e.outcome, e.step, e.unit) for e in ends] == [("abandoned", "menu", None)]
    assert [(s.step, s.reason) for s in strikes] == [("menu", "no_input")]


def test_no_password_anywhere_on_disk(stack, placed):
    """The keyed digits reach no log, config or store file in the stack's state dir."""
    used = {c.password for c in CALLS}
    leaks = [
        (str(path), pw)
        for path in stack.state_dir.rglob("*")
        if path.is_file()
        for pw in used
        if pw.encode() in path.read_bytes()
    ]
    assert leaks == []
