"""A real softphone dials in: baresip, driven over ctrl_tcp, keys with its own DTMF.

Why: the other e2e calls send what our SIPp scenarios imagine; baresip builds its own SDP
(it always offers telephone-event), paces its own key events (180 ms each, 60 ms apart)
and answers the service's BYE its own way. Two phones call at once: one sets a password
of repeated keys, the other first keys `*` and `#` at the menu (two strikes) and then a
password with 5-9 and 0. Each password must then pass the web site's check.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tests.e2e.baresip import Baresip
from tests.stackutil import ends_and_strikes

pytestmark = pytest.mark.e2e

WEST = "0664806430"


@dataclass(frozen=True)
class Dial:
    number: str
    entries: tuple[tuple[float, str], ...]  # (seconds to wait first, keys for sndcode)
    password: str
    menu_strikes: int


# 8 keys take baresip about 1.9 s (240 ms a key): the next entry waits for that and more.
DIALS = [
    Dial("0530000001", ((1.0, "1"), (1.5, "11223344"), (3.5, "11223344")), "11223344", 0),
    Dial(
        "0530000002",
        ((1.0, "*"), (1.5, "#"), (1.5, "1"), (1.5, "56789900"), (3.5, "56789900")),
        "56789900",
        2,
    ),
]


async def _dial_in(stack, dial: Dial, workdir) -> list[dict]:
    async with Baresip(dial.number, workdir) as phone:
        reply = await phone.command("dial", f"sip:{WEST}@127.0.0.1:{stack.sip_port}")
        assert reply.get("ok"), reply
        await phone.wait_event("CALL_ESTABLISHED", timeout_s=15)
        for delay, keys in dial.entries:
            await asyncio.sleep(delay)  # keys barge into the prompts, as a caller's do
            reply = await phone.command("sndcode", keys)
            assert reply.get("ok"), reply
        await phone.wait_event("CALL_CLOSED", timeout_s=40)  # the service hangs up
        return phone.events


@pytest.fixture(scope="module")
def dialled(stack, tmp_path_factory) -> dict[str, list[dict]]:
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text("contract_number,number\n" + "".join(f"{d.number},{d.number}\n" for d in DIALS))
    stack.ivrctl("subscribers", "import", str(csv))
    workdir = tmp_path_factory.mktemp("baresip")

    async def all_calls():
        return await asyncio.gather(*(_dial_in(stack, d, workdir) for d in DIALS))

    return {d.number: events for d, events in zip(DIALS, asyncio.run(all_calls()), strict=True)}


@pytest.mark.parametrize("dial", DIALS, ids=lambda d: d.number)
def test_softphone_sets_a_password_that_verifies(stack, dialled, dial):
    ends, strikes = ends_and_strikes(stack.log_lines(), dial.number)
    assert [(e.outcome, e.step, e.unit, e.target) for e in ends] == [
        ("set", "done", "line", dial.number)
    ]
    assert [(s.step, s.reason) for s in strikes] == [("menu", "invalid_key")] * dial.menu_strikes
    ok = stack.ivrctl("tpw", "verify", dial.number, "-", stdin=dial.password, check=False)
    assert (ok.returncode, ok.stdout.split()[0]) == (0, "ok")
    wrong = stack.ivrctl("tpw", "verify", dial.number, "-", stdin="12345678", check=False)
    assert (wrong.returncode, wrong.stdout.split()[0]) == (1, "wrong")
    assert [e["type"] for e in dialled[dial.number]].count("CALL_CLOSED") == 1


def test_no_password_anywhere_on_disk(stack, dialled):
    leaks = [
        (str(path), d.password)
        for path in stack.state_dir.rglob("*")
        if path.is_file()
        for d in DIALS
        if d.password.encode() in path.read_bytes()
    ]
    assert leaks == []
