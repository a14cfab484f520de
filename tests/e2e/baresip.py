"""A real softphone for the end-to-end tests: baresip, headless, driven over ctrl_tcp.

Why: SIPp calls send what our scenarios imagine; baresip (Debian's package, installed by
``make setup``) sends keys as a subscriber's equipment does, with its own SDP, timing and
RFC 4733 events. It runs with its own temporary config directory (``-f``): SIP and RTP
bound to 127.0.0.1 on ports reserved here, a silent 8 kHz WAV as the microphone (the call
ends when the file does, so it lasts longer than any test call), ``aubridge`` as the
speaker, G.711 only, and ``ctrl_tcp`` for commands and events. Commands and replies are
netstrings holding JSON (``{"command": "dial", "params": ..., "token": ...}``). The
process is stopped with ``quit`` and, failing that, by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
import wave
from pathlib import Path

from loadgen.ports import LOCAL_IP, release_ports, reserve_ports

BARESIP_BIN = os.environ.get("BARESIP_BIN") or shutil.which("baresip") or "/usr/bin/baresip"
SILENCE_S = 180


def _config(sip_port: int, rtp_port: int, ctrl_port: int, silence: Path) -> str:
    return f"""poll_method epoll
sip_listen {LOCAL_IP}:{sip_port}
net_interface {LOCAL_IP}
call_local_timeout 30
call_max_calls 1
audio_player aubridge,nil
audio_source aufile,{silence}
audio_alert aubridge,nil
rtp_ports {rtp_port}-{rtp_port + 3}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen {LOCAL_IP}:{ctrl_port}
"""


def write_silence(path: Path, seconds: int = SILENCE_S) -> None:
    """A mono 16-bit 8 kHz WAV of digital silence."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * seconds)


def netstring(payload: dict) -> bytes:
    data = json.dumps(payload).encode()
    return str(len(data)).encode() + b":" + data + b","


class Baresip:
    """``async with Baresip(number, workdir) as phone: await phone.command("dial", uri)``."""

    def __init__(self, number: str, workdir: Path) -> None:
        self.number = number
        self.dir = workdir / f"baresip-{number}"
        self.events: list[dict] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._ports: list[int] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: dict[str, asyncio.Future] = {}
        self._event_seen = asyncio.Event()
        self._pump: asyncio.Task | None = None
        self._token = 0

    async def __aenter__(self) -> Baresip:
        self.dir.mkdir(parents=True)
        self._ports = reserve_ports(1) + reserve_ports(4, even=True) + reserve_ports(1)
        sip_port, rtp_port, ctrl_port = self._ports[0], self._ports[1], self._ports[5]
        write_silence(self.dir / "silence.wav")
        (self.dir / "config").write_text(
            _config(sip_port, rtp_port, ctrl_port, self.dir / "silence.wav")
        )
        (self.dir / "accounts").write_text(f"<sip:{self.number}@{LOCAL_IP}>;regint=0\n")
        self.log = (self.dir / "baresip.log").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            BARESIP_BIN,
            "-f",
            str(self.dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.log,
            stderr=asyncio.subprocess.STDOUT,
        )
        until = time.monotonic() + 10
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection(LOCAL_IP, ctrl_port)
                break
            except OSError:
                if self.proc.returncode is not None or time.monotonic() > until:
                    raise AssertionError(f"baresip never listened: {self.output()}") from None
                await asyncio.sleep(0.05)
        self._pump = asyncio.create_task(self._read_loop())
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if self.proc and self.proc.returncode is None and self._writer:
                with contextlib.suppress(Exception):
                    await self.command("quit", timeout_s=2)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), 5)
        finally:
            if self._pump:
                self._pump.cancel()
            if self._writer:
                self._writer.close()
            if self.proc and self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, 9)
                await asyncio.wait_for(self.proc.wait(), 5)
            self.log.close()
            release_ports(self._ports)

    def output(self) -> str:
        return (self.dir / "baresip.log").read_text(errors="replace")[-3000:]

    async def _read_loop(self) -> None:
        assert self._reader is not None
        while True:
            length = await self._reader.readuntil(b":")
            data = await self._reader.readexactly(int(length[:-1]) + 1)
            message = json.loads(data[:-1])
            if message.get("response") and message.get("token") in self._replies:
                self._replies.pop(message["token"]).set_result(message)
            elif message.get("event"):
                self.events.append(message)
                self._event_seen.set()

    async def command(self, name: str, params: str = "", *, timeout_s: float = 5) -> dict:
        """Send one command and return baresip's reply (``ok`` says whether it worked)."""
        assert self._writer is not None
        self._token += 1
        token = str(self._token)
        reply = asyncio.get_running_loop().create_future()
        self._replies[token] = reply
        self._writer.write(netstring({"command": name, "params": params, "token": token}))
        await self._writer.drain()
        return await asyncio.wait_for(reply, timeout_s)

    async def wait_event(self, kind: str, timeout_s: float) -> dict:
        """The first event of type ``kind`` (e.g. CALL_ESTABLISHED, CALL_CLOSED)."""
        until = time.monotonic() + timeout_s
        while True:
            for event in self.events:
                if event.get("type") == kind:
                    return event
            left = until - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} in {timeout_s}s: {self.events}\n{self.output()}")
            self._event_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_seen.wait(), left)
