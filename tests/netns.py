"""A test host in a network namespace of its own, joined to this one by a veth pair.

Why a namespace: a request from it really comes from another address over an interface
(what Kamailio or a capture sees from a carrier or a second machine), and the addresses
(10.x inside a /30) exist only on the two ends of the pair. Everything is removed on exit;
nothing is routed anywhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass


def _ip(*args: str, ns: str | None = None) -> str:
    argv = ["ip", *(("netns", "exec", ns, "ip") if ns else ()), *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=10).stdout


@dataclass(frozen=True)
class NsHost:
    ns: str  # the namespace's name
    host_if: str  # this side's end of the pair
    host_ip: str  # this side's address (bind a server here to reach it from the namespace)
    ns_ip: str  # the test host's address

    def argv(self, *argv: str) -> list[str]:
        """A command line that runs inside the test host."""
        return ["ip", "netns", "exec", self.ns, *argv]


def _free_subnet() -> ipaddress.IPv4Network:
    used = _ip("-o", "-4", "addr")
    for _ in range(50):
        b, c, d = secrets.randbelow(54) + 200, secrets.randbelow(256), 4 * secrets.randbelow(64)
        net = ipaddress.ip_network(f"10.{b}.{c}.{d}/30")
        if not any(str(h) + "/" in used for h in net.hosts()):
            return net
    raise RuntimeError("no free 10.x /30 for a test host")


@contextlib.contextmanager
def ns_host() -> Iterator[NsHost]:
    """A namespace with lo up and one veth to this side; both ends addressed."""
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = f"ivrt-{tag}", f"ivh{tag}", f"ivn{tag}"
    net = _free_subnet()
    host_ip, ns_ip = (str(h) for h in net.hosts())
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("addr", "add", f"{ns_ip}/30", "dev", ns_if, ns=ns)
        _ip("link", "set", ns_if, "up", ns=ns)
        _ip("link", "set", "lo", "up", ns=ns)
        yield NsHost(ns, host_if, host_ip, ns_ip)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", host_if)  # takes its peer with it
        _ip("netns", "del", ns)


def leftovers() -> list[str]:
    """Namespaces and links these helpers made that still exist (should be none)."""
    names = _ip("netns", "list") + _ip("-o", "link")
    return [w for w in names.split() if w.startswith(("ivrt-", "ivh", "ivn"))]
