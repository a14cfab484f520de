"""Attacks from the same host, tried against a real stack: each must change nothing.

A raw FastAGI client without the secret, an AMI client listening during real calls, a look at
the state dir's file modes, and a Redis client without the password.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess

import pytest
from panoramisk import Manager

from loadgen.rtp_pcap import keys_at
from loadgen.sipp import CallSpec, run_call

pytestmark = pytest.mark.e2e

CALLER = "0650000001"  # a subscriber's own line (unit 1)
VICTIM = "0650000002"  # a subscriber an attacker would like to own
PW = "39517408"
ATTACK_PW = "27183945"
SUBSCRIBERS = f"contract_number,number\n{CALLER},{CALLER}\n{VICTIM},{VICTIM}\n"


def lines(stack) -> list[dict]:
    return [json.loads(line) for line in stack.calls_log.read_text().splitlines()]


async def raw_agi_attack(port: int, secret: str, script: str = "tmp-password") -> bytes:
    """What a 20-line script did on main: an environment, then 200 result=0 to everything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    env = (
        f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
        f"agi_uniqueid: 666.1\nagi_callerid: {VICTIM}\nagi_extension: 0664806430\n"
        f"agi_arg_1: {secret}\n\n"
    )
    writer.write(env.encode())
    await writer.drain()
    got = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), 10):
            got += chunk
            writer.write(b"200 result=0\n" * chunk.count(b"\n"))
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()
    return got


@pytest.fixture(scope="module")
def imported(stack, tmp_path_factory):
    csv = tmp_path_factory.mktemp("dir") / "subscribers.csv"
    csv.write_text(SUBSCRIBERS)
    stack.ivrctl("subscribers", "import", str(csv))
    return stack


def test_raw_fastagi_client_without_the_secret_sets_nothing(imported):
    stack = imported
    port = int(stack.env["IVR_AGI_PORT"])
    for secret in ("", "0123456789abcdef"):
        assert asyncio.run(raw_agi_attack(port, secret)) == b""  # not a single command
    none = stack.ivrctl("tpw", "show", VICTIM, check=False)
    assert (none.returncode, none.stdout.strip()) == (1, "none")
    refused = [e for e in lines(stack) if e["event"] == "agi.refused"]
    assert [e["reason"] for e in refused] == ["secret", "secret"]
    assert all(e["address"] == "127.0.0.1" for e in refused)
    assert not [e for e in lines(stack) if e["event"] == "call.start"]


async def call_while_listening_to_ami(stack, workdir) -> tuple[bool, list[dict]]:
    events: list[dict] = []
    hung_up = asyncio.Event()

    def heard(_manager: Manager, event) -> None:
        events.append(dict(event))
        if event.get("Event") == "Hangup":
            hung_up.set()

    manager = await stack.ami(events="on")
    manager.register_event("*", heard)
    try:
        schedule = keys_at(1.0, "1", 0.3) + keys_at(2.5, PW, 0.3) + keys_at(6.0, PW, 0.3)
        spec = CallSpec(did="0664806430", caller_from=CALLER, schedule=schedule, timeout_s=60)
        result = await run_call(spec, "127.0.0.1", stack.sip_port, workdir)
        await asyncio.wait_for(hung_up.wait(), 10)  # the hang-up's events follow the BYE
    finally:
        manager.close()
    return result.ok, events


def test_ami_client_during_a_real_call_sees_no_digit(imported, tmp_path):
    stack = imported
    ok, events = asyncio.run(call_while_listening_to_ami(stack, tmp_path))
    assert ok
    verified = stack.ivrctl("tpw", "verify", CALLER, PW, check=False)
    assert verified.stdout.split()[0] == "ok"
    names = {e.get("Event") for e in events}
    assert {"Newchannel", "Hangup"} <= names  # the listener did hear the call
    leaks = [e for e in events if PW in json.dumps(e) or "IVRKEYS" in json.dumps(e)]
    assert leaks == []
    secret = (stack.state_dir / "agi-secret").read_text().strip()
    assert not [e for e in events if secret in json.dumps(e)]


def test_no_file_in_the_state_dir_is_readable_by_others(imported):
    stack = imported
    exposed = subprocess.run(
        ["find", str(stack.state_dir), "-perm", "/077"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert exposed == []
    for name in ("pepper", "ami-secret", "agi-secret", "redis-password"):
        mode = stat.S_IMODE(os.stat(stack.state_dir / name).st_mode)
        assert mode == 0o600, name


def test_redis_refuses_a_client_without_the_password(imported):
    stack = imported
    port = stack.env["IVR_REDIS_PORT"]
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", port]
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    anon = subprocess.run([*cli, "PING"], capture_output=True, text=True, timeout=10, env=env)
    assert "NOAUTH" in anon.stdout + anon.stderr
    password = (stack.state_dir / "redis-password").read_text().strip()
    authed = subprocess.run(
        [*cli, "PING"],
        capture_output=True,
        text=True,
        timeout=10,
        env={**env, "REDISCLI_AUTH": password},
    )
    assert authed.stdout.strip() == "PONG"


def test_agi_secret_is_in_no_log(imported):
    stack = imported
    secret = (stack.state_dir / "agi-secret").read_text().strip().encode()
    holders = {
        path.relative_to(stack.state_dir).as_posix()
        for path in stack.state_dir.rglob("*")
        if path.is_file() and secret in path.read_bytes()
    }
    assert holders == {"agi-secret", "asterisk/etc/extensions.conf"}
