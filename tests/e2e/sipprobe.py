"""One INVITE or a burst of OPTIONS from a chosen source address: what an untrusted host,
a digest-authenticated peer, or the carrier at a high rate would send. Runs in this process
or, as ``python -m tests.e2e.sipprobe invite HOST PORT DID NUMBER LOCAL_IP``, inside a
namespace.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import sys
import time

from tests.e2e.rawsip import _header


def _request(method: str, uri: str, local: tuple[str, int], headers: list[str], body: str,
             call_id: str, cseq: int = 1) -> str:  # fmt: skip
    ip, port = local
    head = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        *headers,
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:probe@{ip}:{port}>",
        "Max-Forwards: 70",
    ]
    if body:
        head.append("Content-Type: application/sdp")
    return "\r\n".join([*head, f"Content-Length: {len(body)}", "", body])


def _digest(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    """Authorization for a challenge without qop (RFC 2617 3.2.2.1), MD5."""
    realm = re.search(r'realm="([^"]*)"', challenge)[1]  # type: ignore[index]
    nonce = re.search(r'nonce="([^"]*)"', challenge)[1]  # type: ignore[index]
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731, S324 (SIP digest)
    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'{method}:{uri}')}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5')  # fmt: skip


def invite(
    host: str,
    port: int,
    did: str,
    number: str,
    local_ip: str,
    timeout_s: float = 3.0,
    *,
    pai: str | None = None,
    auth: tuple[str, str] | None = None,
) -> int | None:
    """The final status of an INVITE with ``number`` in From and P-Asserted-Identity (or
    ``pai``); with ``auth`` (user, password) a digest challenge is answered once. None: no
    final answer within timeout_s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_ip, 0))
        local = sock.getsockname()
        sdp = (f"v=0\r\no=p 1 1 IN IP4 {local_ip}\r\ns=-\r\nc=IN IP4 {local_ip}\r\nt=0 0\r\n"
               "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip
        uri, call_id = f"sip:{did}@{host}:{port}", secrets.token_hex(8)
        headers = [
            f"From: <sip:{number}@{local_ip}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{did}@{host}:{port}>",
            f"P-Asserted-Identity: <sip:{pai or number}@{local_ip}>",
        ]
        until = time.monotonic() + timeout_s
        for cseq in (1, 2):
            sock.sendto(_request("INVITE", uri, local, headers, sdp, call_id, cseq).encode(),
                        (host, port))  # fmt: skip
            reply = _final(sock, until)
            if reply is None:
                return None
            status = int(reply.split(" ", 2)[1])
            if status >= 300:  # the ACK of a non-2xx final response
                ack = [*headers[:1], f"To: {_header(reply, 'To')}"]
                sock.sendto(_request("ACK", uri, local, ack, "", call_id, cseq).encode(),
                            (host, port))  # fmt: skip
            challenge = _header(reply, "WWW-Authenticate") or _header(reply, "Proxy-Authenticate")
            if status not in (401, 407) or auth is None or cseq == 2:
                return status
            name = "Authorization" if status == 401 else "Proxy-Authorization"
            headers.append(f"{name}: {_digest(challenge, *auth, 'INVITE', uri)}")
        return None


def _final(sock: socket.socket, until: float) -> str | None:
    """The next final response (>= 200) before ``until``."""
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535).decode(errors="replace")
        except TimeoutError:
            return None
        if data.startswith("SIP/2.0 ") and data.split(" ", 2)[1] >= "200":
            return data
    return None


def burst(host: str, port: int, local_ip: str, count: int, over_s: float) -> int:
    """Send ``count`` OPTIONS evenly over ``over_s`` seconds; how many got an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_ip, 0))
        local = sock.getsockname()
        start, answered = time.monotonic(), 0
        for i in range(count):
            headers = [f"From: <sip:probe@{local_ip}>;tag={i}", f"To: <sip:{host}:{port}>"]
            request = _request("OPTIONS", f"sip:{host}:{port}", local, headers, "", f"b{i}")
            sock.sendto(request.encode(), (host, port))
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
