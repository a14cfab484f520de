"""Free ports for the benchmarks' own stacks and servers (the tests have theirs in tests/)."""

from __future__ import annotations

import contextlib
import socket


def free_port() -> int:
    """A loopback port free for both TCP and UDP right now (SIP is UDP, the rest TCP)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            with contextlib.suppress(OSError):
                u.bind(("127.0.0.1", port))
                return port
