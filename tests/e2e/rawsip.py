"""A bare SIP UAC in asyncio whose media port is a Python socket: it sees every RTP packet.

Why not SIPp: the test must know when each packet from the service arrived (to prove that
the service never goes silent while waiting for keys), and SIPp only echoes or ignores
what it receives. This caller offers PCMU and telephone-event, sends keys as SIP INFO
(``application/dtmf-relay``), records the arrival time and payload type of each RTP packet,
and hangs up with BYE (or answers the service's BYE).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from dataclasses import dataclass, field

from loadgen.ports import LOCAL_IP, release_ports, reserve_ports

_STATUS = re.compile(r"^SIP/2\.0 (\d{3})")


@dataclass
class Arrivals:
    """RTP packets from the service: (monotonic arrival time, payload type)."""

    packets: list[tuple[float, int]] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[tuple[float, int]]:
        return [p for p in self.packets if start <= p[0] <= end]

    def longest_gap(self, start: float, end: float) -> float:
        """The longest stretch in [start, end] with no packet (edges count)."""
        times = [start, *(t for t, _ in self.between(start, end)), end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    def datagram_received(self, data: bytes, addr) -> None:
        if len(data) >= 12 and data[0] >> 6 == 2:
            self.arrivals.packets.append((time.monotonic(), data[1] & 0x7F))


class _Sip(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.queue.put_nowait(data.decode(errors="replace"))


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


class RawCall:
    """One call: ``async with RawCall(...) as call: await call.info("1") ...``."""

    def __init__(
        self,
        *,
        did: str,
        caller: str,
        sip_port: int,
        timeout_s: float = 10,
        expect_answer: bool = True,
        cancel_after_s: float | None = None,
    ) -> None:
        self.did, self.caller, self.sip_port, self.timeout_s = did, caller, sip_port, timeout_s
        self.expect_answer = expect_answer  # False: a refusal (or a CANCEL) is the expected end
        self.cancel_after_s = cancel_after_s
        self.responses: list[tuple[float, int, bool]] = []  # (arrival, status, has SDP)
        self.final_status = 0
        self.invite_branch = "z9hG4bK" + secrets.token_hex(6)
        self.arrivals = Arrivals()
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)
        self.cseq = 1
        self.remote_to = ""
        self.remote_uri = f"sip:{did}@{LOCAL_IP}:{sip_port}"
        self.answered_at = 0.0
        self.service_bye = False
        self._ports: list[int] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._sip = _Sip()

    async def __aenter__(self) -> RawCall:
        loop = asyncio.get_running_loop()
        self._ports = reserve_ports(1) + reserve_ports(2, even=True)
        self.sip_local, self.rtp_port = self._ports[0], self._ports[1]
        sip_t, _ = await loop.create_datagram_endpoint(
            lambda: self._sip, local_addr=(LOCAL_IP, self.sip_local)
        )
        rtp_t, _ = await loop.create_datagram_endpoint(
            lambda: _Rtp(self.arrivals), local_addr=(LOCAL_IP, self.rtp_port)
        )
        rtcp_t, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(LOCAL_IP, self.rtp_port + 1)
        )
        self._transports = [sip_t, rtp_t, rtcp_t]
        await self._invite()
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if not self.service_bye and self.answered_at:
                with contextlib.suppress(TimeoutError):
                    await self._request("BYE")
        finally:
            for t in self._transports:
                t.close()
            release_ports(self._ports)

    # --- messages ----------------------------------------------------------------------

    def _send(self, text: str) -> None:
        assert self._sip.transport is not None
        self._sip.transport.sendto(text.encode(), (LOCAL_IP, self.sip_port))

    def _head(
        self, method: str, uri: str, cseq: int, to: str, branch: str | None = None
    ) -> list[str]:
        branch = branch or "z9hG4bK" + secrets.token_hex(6)
        return [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {LOCAL_IP}:{self.sip_local};branch={branch}",
            f"From: <sip:{self.caller}@{LOCAL_IP}>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.caller}@{LOCAL_IP}:{self.sip_local}>",
            "Max-Forwards: 70",
        ]

    def _compose(self, head: list[str], body: str = "", ctype: str = "") -> str:
        extra = [f"Content-Type: {ctype}"] if ctype else []
        return "\r\n".join([*head, *extra, f"Content-Length: {len(body)}", "", body])

    async def _next(self, until: float) -> str:
        """The next SIP message; a service BYE on the way is answered and noted."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError("no SIP reply in time")
            msg = await asyncio.wait_for(self._sip.queue.get(), left)
            if msg.startswith("BYE "):
                self.service_bye = True
                self._reply_ok(msg)
                continue
            return msg

    def _reply_ok(self, request: str) -> None:
        lines = ["SIP/2.0 200 OK"]
        lines += [f"{h}: {_header(request, h)}" for h in ("Via", "From", "To", "Call-ID", "CSeq")]
        self._send("\r\n".join([*lines, "Content-Length: 0", "", ""]))

    async def _final(self, cseq: int, method: str = "") -> str:
        until = time.monotonic() + self.timeout_s
        while True:
            msg = await self._next(until)
            status = _STATUS.match(msg)
            if not status or not _header(msg, "CSeq").startswith(f"{cseq} {method}"):
                continue
            if method == "INVITE":
                self.responses.append((time.monotonic(), int(status[1]), "\r\nv=0" in msg))
            if status[1] >= "200":
                return msg

    async def _cancel_later(self, delay_s: float, to: str) -> None:
        """CANCEL the pending INVITE (same branch, RFC 3261 9.1): the caller gave up."""
        await asyncio.sleep(delay_s)  # the caller's own timing: what the test is about
        head = self._head("CANCEL", self.remote_uri, 1, to, branch=self.invite_branch)
        self._send(self._compose(head))

    async def _invite(self) -> None:
        sdp = "\r\n".join(
            [
                "v=0",
                f"o=raw 1 1 IN IP4 {LOCAL_IP}",
                "s=-",
                f"c=IN IP4 {LOCAL_IP}",
                "t=0 0",
                f"m=audio {self.rtp_port} RTP/AVP 0 101",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=fmtp:101 0-16",
                "a=ptime:20",
                "a=sendrecv",
                "",
            ]
        )
        to = f"<sip:{self.did}@{LOCAL_IP}:{self.sip_port}>"
        head = self._head("INVITE", self.remote_uri, 1, to, branch=self.invite_branch)
        self._send(self._compose(head, sdp, "application/sdp"))
        cancel = None
        if self.cancel_after_s is not None:
            cancel = asyncio.create_task(self._cancel_later(self.cancel_after_s, to))
        ok = await self._final(1, "INVITE")
        if cancel is not None:
            await cancel
        self.final_status = int(_STATUS.match(ok)[1])  # type: ignore[index]
        if self.final_status >= 300:
            # ACK of a non-2xx final response: the INVITE's branch, the response's To (its tag)
            ack = self._head("ACK", f"sip:{self.did}@{LOCAL_IP}:{self.sip_port}", 1,
                             _header(ok, "To"), branch=self.invite_branch)  # fmt: skip
            self._send(self._compose(ack))
            if self.expect_answer:
                raise AssertionError(f"INVITE answered {ok.splitlines()[0]}")
            return
        if not ok.startswith("SIP/2.0 200"):
            raise AssertionError(f"INVITE answered {ok.splitlines()[0]}")
        self.answered_at = time.monotonic()
        self.remote_to = _header(ok, "To")
        contact = re.search(r"<([^>]+)>", _header(ok, "Contact"))
        if contact:
            self.remote_uri = contact[1]
        self._send(self._compose(self._head("ACK", self.remote_uri, 1, self.remote_to)))

    async def _request(self, method: str, body: str = "", ctype: str = "") -> str:
        self.cseq += 1
        head = self._head(method, self.remote_uri, self.cseq, self.remote_to)
        self._send(self._compose(head, body, ctype))
        return await self._final(self.cseq)

    async def info(self, key: str, duration_ms: int = 160) -> None:
        """One key as SIP INFO (application/dtmf-relay); the service must answer 200."""
        body = f"Signal={key}\r\nDuration={duration_ms}\r\n"
        reply = await self._request("INFO", body, "application/dtmf-relay")
        if not reply.startswith("SIP/2.0 200"):
            raise AssertionError(f"INFO answered {reply.splitlines()[0]}")

    async def wait_service_bye(self, timeout_s: float) -> bool:
        """True once the service has hung up (within timeout_s)."""
        until = time.monotonic() + timeout_s
        with contextlib.suppress(TimeoutError):
            while not self.service_bye:
                await self._next(until)
        return self.service_bye
