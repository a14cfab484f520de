"""One INVITE or a burst of OPTIONS from a chosen source address: what an untrusted host,
or the carrier at a high rate, would send. Runs in this process or, as
``python -m tests.e2e.sipprobe invite HOST PORT DID NUMBER LOCAL_IP``, inside a namespace.
"""

from __future__ import annotations

import secrets
import socket
import sys
import time


def _request(method: str, uri: str, local: tuple[str, int], headers: list[str], body: str) -> str:
    ip, port = local
    call_id = secrets.token_hex(8)
    head = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        *headers,
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:probe@{ip}:{port}>",
        "Max-Forwards: 70",
    ]
    if body:
        head.append("Content-Type: application/sdp")
    return "\r\n".join([*head, f"Content-Length: {len(body)}", "", body])


def invite(host: str, port: int, did: str, number: str, local_ip: str, timeout_s: float = 3.0):
    """The final status of an INVITE with ``number`` in From and P-Asserted-Identity (None:
    no final answer within timeout_s)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_ip, 0))
        sock.settimeout(timeout_s)
        local = sock.getsockname()
        sdp = (f"v=0\r\no=p 1 1 IN IP4 {local_ip}\r\ns=-\r\nc=IN IP4 {local_ip}\r\nt=0 0\r\n"
               "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip
        headers = [
            f"From: <sip:{number}@{local_ip}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{did}@{host}:{port}>",
            f"P-Asserted-Identity: <sip:{number}@{local_ip}>",
        ]
        sock.sendto(_request("INVITE", f"sip:{did}@{host}:{port}", local, headers, sdp).encode(),
                    (host, port))  # fmt: skip
        until = time.monotonic() + timeout_s
        while time.monotonic() < until:
            try:
                data = sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                return None
            status = data.split(" ", 2)
            if data.startswith("SIP/2.0 ") and status[1] >= "200":
                return int(status[1])
        return None


def burst(host: str, port: int, local_ip: str, count: int, over_s: float) -> int:
    """Send ``count`` OPTIONS evenly over ``over_s`` seconds; how many got an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_ip, 0))
        sock.setblocking(False)
        local = sock.getsockname()
        start, answered = time.monotonic(), 0
        for i in range(count):
            headers = [f"From: <sip:probe@{local_ip}>;tag={i}", f"To: <sip:{host}:{port}>"]
            sock.sendto(_request("OPTIONS", f"sip:{host}:{port}", local, headers, "").encode(),
                        (host, port))  # fmt: skip
            answered += _drain(sock, start + (i + 1) * over_s / count)
        return answered + _drain(sock, time.monotonic() + 1.0)


def _drain(sock: socket.socket, until: float) -> int:
    """Answers that arrive before ``until``."""
    got = 0
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got += sock.recv(65535).startswith(b"SIP/2.0 ")
        except TimeoutError:
            break
    return got


if __name__ == "__main__":
    _, what, host, port, did, number, local_ip = sys.argv
    print(invite(host, int(port), did, number, local_ip))
