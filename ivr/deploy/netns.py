"""Nodes that can be partitioned: each in a network namespace of its own (docs/scale-out.md).

A partition test needs to cut one node off from everything, or from some peers only, and
heal it; on loopback that is impossible. Here every node gets a namespace joined to a
bridge by a veth pair; the bridge lives in a hub namespace, so nothing at all is added to
the host's namespace and the addresses (10.213.0.0/24) exist only inside namespaces this
module creates. `remove()` deletes the namespaces, which takes the veths and the bridge
with them; `leftovers(tag)` tells a test whether anything of a run remains.

Cutting: `cut(name)` takes the node's veth down on the hub side (packets vanish, like a
pulled cable); `block(a, b)` drops packets between two nodes in both namespaces with
iptables (silently, no refusal: a connect waits for its timeout). This kernel has no netem
or prio qdisc, so loss and delay are not offered.

`call_in(ns, fn)` runs fn in a thread moved into a namespace (setns moves only the calling
thread): the sockets fn opens are the namespace's, so a probe reaches its nodes while this
process, and the host, stay outside.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

SUBNET = "10.213.0"
PREFIX = "ivrj"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _ns_list() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def call_in(ns: str, fn: Callable[[], T]) -> T:
    """fn() run by a thread inside network namespace ns; its result or its exception."""
    out: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {ns} failed")
            finally:
                os.close(fd)
            out.append((True, fn()))
        except BaseException as exc:  # handed to the caller's thread
            out.append((False, exc))

    thread = threading.Thread(target=run, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    ok, value = out[0]
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def leftovers(tag: str) -> list[str]:
    """The namespaces of run `tag` that still exist (empty after remove())."""
    return [ns for ns in _ns_list() if ns.startswith(f"{PREFIX}-{tag}-")]


@dataclass
class Net:
    """One test's namespaces: a hub with the bridge, and one namespace per node."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    nodes: dict[str, str] = field(default_factory=dict)  # name -> address
    _veth: dict[str, str] = field(default_factory=dict)  # name -> hub-side interface
    _blocked: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def attach(cls, tag: str, nodes: dict[str, str]) -> Net:
        """The Net of namespaces made earlier (another process): node i's veth is v<i>."""
        veth = {name: f"v{address.rsplit('.', 1)[1]}" for name, address in nodes.items()}
        return cls(tag=tag, nodes=dict(nodes), _veth=veth)

    @property
    def hub(self) -> str:
        return f"{PREFIX}-{self.tag}-hub"

    def ns(self, name: str) -> str:
        return f"{PREFIX}-{self.tag}-{name}"

    def create(self) -> Net:
        _ip("netns", "add", self.hub)
        _ip("-n", self.hub, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        return self

    def add(self, name: str) -> str:
        """A node's namespace on the bridge; its address."""
        index = len(self.nodes) + 2
        address = f"{SUBNET}.{index}"
        ns, veth = self.ns(name), f"v{index}"
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
            "netns", ns)  # fmt: skip
        _ip("-n", self.hub, "link", "set", veth, "master", "br0", "up")
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        self.nodes[name], self._veth[name] = address, veth
        return address

    def argv(self, name: str, argv: list[str]) -> list[str]:
        """argv run inside the node's namespace (`ip netns exec` execs it: the pid is its)."""
        return ["ip", "netns", "exec", self.ns(name), *argv]

    def cut(self, name: str) -> None:
        """The node loses every peer (its link is down on the bridge side)."""
        _ip("-n", self.hub, "link", "set", self._veth[name], "down")

    def heal(self, name: str) -> None:
        _ip("-n", self.hub, "link", "set", self._veth[name], "up")

    def _iptables(self, name: str, op: str, peer: str) -> None:
        for chain, way in (("INPUT", "-s"), ("OUTPUT", "-d")):
            subprocess.run(
                ["ip", "netns", "exec", self.ns(name), "iptables", op, chain, way,
                 self.nodes[peer], "-j", "DROP"],
                check=True, capture_output=True, timeout=10,
            )  # fmt: skip

    def block(self, a: str, b: str) -> None:
        """Packets between a and b are dropped (both ways, both namespaces)."""
        if (a, b) in self._blocked:
            return
        self._iptables(a, "-A", b)
        self._iptables(b, "-A", a)
        self._blocked.add((a, b))

    def unblock_all(self) -> None:
        for a, b in sorted(self._blocked):
            self._iptables(a, "-D", b)
            self._iptables(b, "-D", a)
        self._blocked.clear()

    def remove(self) -> None:
        """Every namespace of this run (their veths and the bridge go with them)."""
        for ns in leftovers(self.tag):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
