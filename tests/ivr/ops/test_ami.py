"""`ivrctl calls live`'s AMI query against a few lines of fake AMI server on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ivr.ops.ami import AmiError, list_channels

SECRET = "s3cret"


def block(**headers: str | list[str]) -> bytes:
    lines = []
    for k, v in headers.items():
        for value in v if isinstance(v, list) else [v]:
            lines.append(f"{k.replace('_', '-')}: {value}\r\n")
    return "".join(lines).encode() + b"\r\n"


class FakeAmi:
    """Banner, Login (checks the secret), CoreShowChannels with two channels."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.open = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(
                    line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line
                )
                aid = action.get("ActionID", "")
                if action.get("Action") == "Login":
                    ok = action.get("Secret") == SECRET
                    writer.write(block(Response="Success" if ok else "Error", ActionID=aid))
                elif action.get("Action") == "CoreShowChannels":
                    writer.write(block(Response="Success", ActionID=aid, EventList="start"))
                    for n in ("1", "2"):
                        writer.write(block(
                            Event="CoreShowChannel", ActionID=aid, Channel=f"PJSIP/trunk-{n}",
                            CallerIDNum=f"061200000{n}", Exten="0664806430",
                            ApplicationData="agi://127.0.0.1/tmp-password,SECRET",
                            ChanVariable=["IVR_STEP=password", "IVR_UNIT=line"],
                        ))  # fmt: skip
                    writer.write(
                        block(Event="CoreShowChannelsComplete", ActionID=aid, EventList="Complete")
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    fake = FakeAmi()
    await fake.start()
    yield fake
    await fake.close()


async def test_channels_with_their_variables_and_never_the_agi_arguments(ami: FakeAmi) -> None:
    channels = await list_channels("127.0.0.1", ami.port, "ivr", SECRET)
    assert [c["Channel"] for c in channels] == ["PJSIP/trunk-1", "PJSIP/trunk-2"]
    assert channels[0]["vars"] == {"IVR_STEP": "password", "IVR_UNIT": "line"}
    assert all("ApplicationData" not in c for c in channels)


async def test_refused_login_and_unreachable_are_one_error_and_leave_nothing(
    ami: FakeAmi,
) -> None:
    with pytest.raises(AmiError, match="refused"):
        await list_channels("127.0.0.1", ami.port, "ivr", "wrong", timeout_s=2)
    port = ami.port
    await ami.close()
    with pytest.raises(AmiError, match="unreachable"):
        await list_channels("127.0.0.1", port, "ivr", SECRET, timeout_s=2)
    # No reconnect timer outlives a look: the loop holds no pending handle from panoramisk.
    loop = asyncio.get_running_loop()
    assert not [h for h in loop._scheduled if not h.cancelled()]  # noqa: SLF001
