"""The store under test: Redis data nodes and three Sentinels, on loopback or one per netns.

Configured as `ivrctl cluster up` configures them (ivr.deploy.redis_ha: fsync always,
min-replicas-to-write, quorum 2); `weak=True` is the deliberately weakened store (no
min-replicas) the checker must catch. Every process is started here and stopped by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ivr.config.secret_files import private_dir, read_or_create
from ivr.deploy import redis_ha
from ivr.deploy.netns import Net
from ivr.deploy.procs import wait_for
from loadgen.ports import free_port
from store.pepper import load_or_create

REDIS_PORT, SENTINEL_PORT = 6379, 26379


@dataclass
class Node:
    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Rig:
    dir: Path
    net: Net | None
    data: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def password(self) -> str:
        return read_or_create(self.dir / "redis-password")

    @property
    def url(self) -> str:
        hosts = ",".join(f"{n.host}:{n.port}" for n in self.sentinels)
        return f"redis+sentinel://{hosts}/{redis_ha.SERVICE}"

    def place(self, name: str) -> tuple[str, int, list[str]]:
        """(host, port offset base, argv prefix) of a new node."""
        if self.net is None:
            return "127.0.0.1", 0, []
        host = self.net.add(name)
        return host, 1, self.net.argv(name, [])

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 # the child keeps it
        with log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=env, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        self.procs.append(proc)
        return proc

    def cli(self, node: Node, *args: str) -> str:
        """redis-cli's answer from node (from the `ctl` namespace in a netns rig); "" when
        it does not answer. The password goes in the environment, never on a command line."""
        argv = ["redis-cli", "-h", node.host, "-p", str(node.port), *args]
        if self.net is not None:
            argv = self.net.argv("ctl", argv)
        env = {**os.environ, "REDISCLI_AUTH": self.password}
        try:
            out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    def primary(self) -> Node | None:
        """The data node a majority of the Sentinels name now (None: no majority)."""
        votes: dict[tuple[str, int], int] = {}
        for s in self.sentinels:
            lines = self.cli(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", redis_ha.SERVICE).split()
            if len(lines) == 2:
                key = (lines[0], int(lines[1]))
                votes[key] = votes.get(key, 0) + 1
        best = max(votes.items(), key=lambda kv: kv[1], default=None)
        if best is None or best[1] < 2:
            return None
        return next((n for n in self.data if (n.host, n.port) == best[0]), None)

    def role(self, node: Node) -> str:
        return self.cli(node, "ROLE").split("\n")[0]

    def replicas_seen(self, sentinel: Node) -> dict[tuple[str, int], dict[str, str]]:
        """{(host, port): fields} of the replicas this Sentinel lists (SENTINEL REPLICAS)."""
        lines = self.cli(sentinel, "SENTINEL", "REPLICAS", redis_ha.SERVICE).split("\n")
        rows: list[dict[str, str]] = []
        for key, value in zip(lines[::2], lines[1::2], strict=False):
            if key == "name":
                rows.append({})
            if rows:
                rows[-1][key] = value
        return {(r["ip"], int(r["port"])): r for r in rows if r.get("port", "").isdigit()}

    def settled(self) -> bool:
        """The Sentinels' primary serves every other data node, and every Sentinel knows the
        others and lists each of those replicas as one it could promote (flags `slave`
        alone, its link to the primary up). Sentinel learns replicas from the primary's
        INFO, every 10 s: a fault before that finds a Sentinel with no candidate, which
        aborts the failover and may not try again for 2 x failover-timeout
        (docs/scale-out.md "Two failovers in a row")."""
        p = self.primary()
        if p is None:
            return False
        info = self.cli(p, "INFO", "replication")
        alive = [n for n in self.data if n.proc is None or n.proc.poll() is None]
        if info.count("state=online") < len(alive) - 1:
            return False
        for s in self.sentinels:
            if f"num-other-sentinels\n{len(self.sentinels) - 1}" not in self.cli(
                s, "SENTINEL", "MASTER", redis_ha.SERVICE
            ):
                return False
            seen = self.replicas_seen(s)
            for n in alive:
                row = seen.get((n.host, n.port), {}) if n is not p else {"flags": "slave"}
                if row.get("flags") != "slave" or row.get("master-link-status", "ok") != "ok":
                    return False
        return True

    def node_at(self, host: str, port: int) -> Node:
        return next(n for n in self.data if (n.host, n.port) == (host, port))


def _up(rig: Rig, node: Node, timeout_s: float = 20.0) -> None:
    def ready() -> bool:
        assert node.proc is not None
        return node.proc.poll() is not None or rig.cli(node, "PING") == "PONG"

    if not wait_for(ready, timeout_s, 0.05) or (node.proc and node.proc.poll() is not None):
        raise RuntimeError(f"{node.name} did not start")


def start(dir_: Path, net: Net | None, *, replicas: int = 2, weak: bool = False) -> Rig:
    rig = Rig(dir_, net)
    password = rig.password
    load_or_create(dir_ / "pepper")
    for i in range(1 + replicas):
        host, fixed, prefix = rig.place(f"redis-{i}")
        port = REDIS_PORT if fixed else free_port()
        leader = None if i == 0 else (rig.data[0].host, rig.data[0].port)
        argv = redis_ha.node_argv(port, dir_ / f"redis-{i}", password, replica_of=leader,
                                  bind=host, min_replicas=0 if weak else 1)  # fmt: skip
        node = Node(f"redis-{i}", host, port)
        node.proc = rig.spawn(node.name, prefix + argv)
        rig.data.append(node)
    for k in range(3):
        host, fixed, prefix = rig.place(f"sentinel-{k}")
        port = SENTINEL_PORT if fixed else free_port()
        first = (rig.data[0].host, rig.data[0].port)
        argv = redis_ha.sentinel_argv(port, dir_ / f"sentinel-{k}", password, first, bind=host)
        node = Node(f"sentinel-{k}", host, port)
        node.proc = rig.spawn(node.name, prefix + argv)
        rig.sentinels.append(node)
    if net is not None:
        net.add("ctl")  # where the test's own redis-cli runs; never cut
    for node in rig.data + rig.sentinels:
        _up(rig, node)
    if not wait_for(rig.settled, 30.0, 0.2):
        raise RuntimeError(f"the store did not settle; see {dir_}")
    return rig


def stop(rig: Rig) -> None:
    for proc in reversed(rig.procs):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a frozen node must see its SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextlib.contextmanager
def running(*, netns: bool, replicas: int = 2, weak: bool = False) -> Iterator[Rig]:
    """A started rig; everything (processes, namespaces, files) gone afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="ivr-jepsen-"))  # 0700
    private_dir(tmp)
    net = Net().create() if netns else None
    rig = None
    try:
        rig = start(tmp, net, replicas=replicas, weak=weak)
        yield rig
    finally:
        if rig is not None:
            stop(rig)
        if net is not None:
            net.remove()
        subprocess.run(["rm", "-rf", str(tmp)], check=False, timeout=30)


def client(node: Node, password: str) -> redis.Redis:
    return redis.Redis(host=node.host, port=node.port, password=password, socket_timeout=2,
                       socket_connect_timeout=2, decode_responses=True)  # fmt: skip
