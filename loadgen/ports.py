"""Local ports for callers and the servers they call: free now, or a block kept for SIPp.

The one place that picks ports, for the stacks (`ivr.deploy`), the benchmarks and the tests
alike. The kernel picks a port (bind to 0); a port is handed out only when it is free for
both TCP and UDP, since SIP is UDP and the other servers are TCP.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

LOCAL_IP = "127.0.0.1"


def udp_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tcp_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(taken: set[int] | None = None, host: str = LOCAL_IP) -> int:
    """A port free for TCP and UDP right now; with ``taken``, one not handed out before
    (it is added), so a plan of many servers never gets the same port twice."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if not udp_free(host, port) or (taken is not None and port in taken):
            continue
        if taken is not None:
            taken.add(port)
        return port


_reserved: set[int] = set()
_reserved_lock = threading.Lock()


def reserve_ports(count: int = 1, *, even: bool = False) -> list[int]:
    """``count`` consecutive free UDP ports, kept from other calls of this process.

    Media needs a block: SIPp binds ``-mp`` P (audio) and P+2 (video); the far end sends
    RTCP to P+1, so P..P+3 must not be another call's SIP port.
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOCAL_IP, 0))
            base = s.getsockname()[1]
        if even:
            base &= ~1
        block = list(range(base, base + count))
        if block[-1] > 65535:
            continue
        with _reserved_lock:
            if any(p in _reserved for p in block):
                continue
            if not all(udp_free(LOCAL_IP, p) for p in block):
                continue
            _reserved.update(block)
        return block
    raise RuntimeError("no free UDP port block found")


def release_ports(ports: Sequence[int]) -> None:
    """Give ports back once the SIPp that used them has exited."""
    with _reserved_lock:
        _reserved.difference_update(ports)
