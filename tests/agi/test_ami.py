"""The AMI watcher and ping against a few lines of fake AMI server on port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from agi.ami import AmiError, ami_ping, event_record, watch_calls

WAIT = 5.0


def block(**headers: str) -> bytes:
    return "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items()).encode() + (
        b"\r\n"
    )


EVENTS = [
    block(Event="Newchannel", Channel="PJSIP/sipp-1", Uniqueid="1.1", CallerIDNum="0612"),
    block(Event="Newexten", Channel="PJSIP/sipp-1", Uniqueid="1.1", AppData="x"),
    block(Event="VarSet", Channel="PJSIP/sipp-1", Variable="IVRKEYS", Value="48151623"),
    block(Event="VarSet", Channel="PJSIP/sipp-1", Variable="IVR_OUTCOME", Value="done"),
    block(
        Event="AGIExecStart",
        Channel="PJSIP/sipp-1",
        Uniqueid="1.1",
        CommandId="7",
        Command='SET VARIABLE "IVR_TRY" "48151623"',
    ),
    block(
        Event="AGIExecEnd",
        Channel="PJSIP/sipp-1",
        Uniqueid="1.1",
        CommandId="8",
        Command='GET VARIABLE "IVRKEYS"',
        ResultCode="200",
        Result="Success: 200 result=1 (48151623)",
    ),
    block(Event="Hangup", Channel="PJSIP/sipp-1", Uniqueid="1.1", Cause="16", Cause_txt="Normal"),
]


class FakeAmi:
    """Banner, Login (checks the secret), Ping; then the scripted events, then hang up."""

    def __init__(self, secret: str = "s3cret", events: list[bytes] | None = None) -> None:
        self.secret = secret
        self.events = events or []
        self.logins = 0
        self.clients: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(
                    line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line
                )
                action_id = action.get("ActionID", "")
                if action.get("Action") == "Login":
                    if action.get("Secret") != self.secret:
                        writer.write(block(Response="Error", ActionID=action_id))
                        continue
                    self.logins += 1
                    writer.write(block(Response="Success", ActionID=action_id))
                    for event in self.events:
                        writer.write(event)
                elif action.get("Action") == "Ping":
                    writer.write(block(Response="Success", ActionID=action_id, Ping="Pong"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.clients.discard(writer)
            writer.close()

    def drop_clients(self) -> None:
        """Close every AMI connection, as an Asterisk restart would; keep listening."""
        for writer in list(self.clients):
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    fake = FakeAmi(events=list(EVENTS))
    await fake.start()
    yield fake
    await fake.close()


class Lines:
    """A text sink that lets the test wait for n lines instead of sleeping."""

    def __init__(self, want: int) -> None:
        self.text = ""
        self.want = want
        self.enough = asyncio.Event()

    def write(self, data: str) -> int:
        self.text += data
        if self.text.count("\n") >= self.want:
            self.enough.set()
        return len(data)

    def flush(self) -> None:
        pass


async def test_watch_calls_writes_relevant_events_without_secrets(ami: FakeAmi) -> None:
    out, stop = Lines(want=5), asyncio.Event()
    task = asyncio.create_task(watch_calls("127.0.0.1", ami.port, "ops", "s3cret", out, stop=stop))
    await asyncio.wait_for(out.enough.wait(), WAIT)
    stop.set()
    await asyncio.wait_for(task, WAIT)
    records = [json.loads(line) for line in out.text.splitlines()]
    assert [r["event"] for r in records] == [
        "Newchannel",
        "VarSet",
        "AGIExecStart",
        "AGIExecEnd",
        "Hangup",
    ]
    assert records[0]["CallerIDNum"] == "0612"
    assert records[1]["Variable"] == "IVR_OUTCOME" and records[1]["Value"] == "done"
    assert records[2]["Command"] == "SET VARIABLE"
    assert records[3]["Command"] == "GET VARIABLE" and records[3]["ResultCode"] == "200"
    assert records[4]["Cause-txt"] == "Normal"
    assert all(r["ts"].endswith("+00:00") for r in records)
    assert "48151623" not in out.text


async def test_watch_calls_reconnects_after_loss() -> None:
    fake = FakeAmi(events=[EVENTS[0]])
    await fake.start()
    out, stop = Lines(want=1), asyncio.Event()
    task = asyncio.create_task(
        watch_calls("127.0.0.1", fake.port, "ops", "s3cret", out, stop=stop, retry_s=0.05)
    )
    try:
        await asyncio.wait_for(out.enough.wait(), WAIT)
        out.enough.clear()
        out.want = 2
        fake.drop_clients()  # the watcher must log in again and get the events once more
        await asyncio.wait_for(out.enough.wait(), WAIT)
        assert fake.logins == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)
        await fake.close()


async def test_watch_calls_refused_login_raises(ami: FakeAmi) -> None:
    with pytest.raises(AmiError):
        await asyncio.wait_for(watch_calls("127.0.0.1", ami.port, "ops", "wrong", Lines(1)), WAIT)
    assert ami.logins == 0


async def test_watch_calls_stops_while_ami_is_down() -> None:
    fake = FakeAmi()
    port = await fake.start()
    await fake.close()  # nothing listens on port any more
    stop = asyncio.Event()
    task = asyncio.create_task(
        watch_calls("127.0.0.1", port, "ops", "s3cret", Lines(1), stop=stop, retry_s=60)
    )
    with capture_logs() as logs, pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 0.3)  # bounded: shows it keeps trying
    assert [e["event"] for e in logs] == ["ami.unavailable"]
    stop.set()
    await asyncio.wait_for(task, WAIT)  # returns promptly despite retry_s=60
    assert task.exception() is None


async def test_ami_ping(ami: FakeAmi) -> None:
    elapsed = await ami_ping("127.0.0.1", ami.port, "ops", "s3cret")
    assert 0 <= elapsed < WAIT
    assert ami.logins == 1
    with pytest.raises(AmiError):
        await ami_ping("127.0.0.1", ami.port, "ops", "wrong")


async def test_ami_ping_unreachable() -> None:
    fake = FakeAmi()
    port = await fake.start()
    await fake.close()
    with pytest.raises(AmiError):
        await ami_ping("127.0.0.1", port, "ops", "s3cret", timeout_s=2)


def test_event_record_filters() -> None:
    assert event_record({"Event": "Newexten"}) is None
    assert event_record({"Event": "VarSet", "Variable": "READSTATUS", "Value": "OK"}) is None
    record = event_record({"Event": "Hangup", "Uniqueid": "1.1", "Extra": "x"}, now=0)
    assert record == {"ts": "1970-01-01T00:00:00.000+00:00", "event": "Hangup", "Uniqueid": "1.1"}
