"""A scripted fake Asterisk over a real socket, and a factory for servers on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agi.server import AgiServer, Handler, Registry

WAIT = 5.0  # upper bound on any condition we wait for; never reached when things work


def env_bytes(script: str = "tmp-password", uniqueid: str = "1700000000.1") -> bytes:
    return (
        f"agi_network: yes\nagi_network_script: {script}\n"
        f"agi_request: agi://127.0.0.1/{script}\nagi_channel: PJSIP/sipp-1\n"
        f"agi_uniqueid: {uniqueid}\nagi_callerid: 0612345678\n\n"
    ).encode()


class FakeAsterisk:
    """The Asterisk side of one FastAGI connection, driven step by step by a test."""

    opened: list[FakeAsterisk] = []  # closed by the make_server fixture

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, first: bytes | None = None) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        fake = cls(reader, writer)
        cls.opened.append(fake)
        if first is not None:
            await fake.send(first)
        return fake

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), WAIT)
        assert raw.endswith(b"\n"), f"connection ended instead of a command: {raw!r}"
        return raw.decode().rstrip("\n")

    async def expect(self, line: str, reply: bytes) -> None:
        assert await self.line() == line
        await self.send(reply)

    async def expect_eof(self) -> None:
        """The server closed the connection and sent nothing more."""
        rest = await asyncio.wait_for(self.reader.read(), WAIT)
        assert rest == b""

    async def expect_refused(self) -> None:
        """Closed without a single command; unread environment bytes may turn FIN into RST."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), WAIT)
        except ConnectionResetError:
            rest = b""
        assert rest == b""

    async def nothing_sent_for(self, seconds: float) -> None:
        """A negative check: a bounded wait is the only way to show silence."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.reader.readline(), seconds)

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER 0), like a crashed peer."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()


ServerFactory = Callable[..., Awaitable[AgiServer]]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    servers: list[AgiServer] = []

    async def make(handlers: dict[str, Handler], **kwargs: object) -> AgiServer:
        kwargs.setdefault("command_timeout_s", WAIT)
        kwargs.setdefault("failure_variable", ("IVR_OUTCOME", "error_internal"))
        server = AgiServer(Registry(handlers), "127.0.0.1", 0, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()
    for fake in FakeAsterisk.opened:
        fake.close()
        with contextlib.suppress(ConnectionError):
            await fake.writer.wait_closed()
    FakeAsterisk.opened.clear()
