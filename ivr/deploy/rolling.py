"""`ivrctl cluster restart NODE | upgrade`: one part at a time, and no caller notices.

A FastAGI server gets SIGTERM and drains (new calls go to the next server, the live ones
finish); an Asterisk node leaves Kamailio's dispatcher, then `core stop gracefully` lets
its calls end; a Redis replica restarts while the other replicas confirm the writes; the
primary hands over first (writes paused, Sentinel failover, unpaused: the paused writes
retry on the new primary). Each part comes back through `cluster up`'s own start code, so
an upgrade is: install the new binaries or code, then `ivrctl cluster upgrade`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import redis

from ivr.config.settings import Settings
from ivr.deploy import cluster, cluster_netns, kamailio, procs, redis_ha, stack
from ivr.deploy.cluster_plan import Plan

# An INVITE Kamailio relayed just before the node left the dispatcher may still be on its
# way: the node takes it before it stops taking calls.
IN_FLIGHT_S = 1.0
PAUSE_MS = 10_000  # the longest the old primary holds writes during a handover
START_S = 60.0

Say = Callable[[str], None]


def _cluster(settings: Settings) -> cluster.Cluster:
    plan = Plan.load(settings.state_dir)
    if plan is None:
        raise stack.StackError("no cluster here (no cluster.json): `ivrctl cluster up` first")
    return cluster.Cluster(settings, plan)


def _drain_bound_s(c: cluster.Cluster) -> float:
    """A call lasts at most max_call_s; the dialplan's own backstop is 60 s beyond."""
    return c.settings.timing.max_call_s + stack.HARD_LIMIT_MARGIN_S + 15


def nodes(settings: Settings) -> list[str]:
    """Every node `upgrade` restarts, in its order (Kamailio apart: docs/operations.md)."""
    p = _cluster(settings).plan
    return (
        [f"agi-{j}" for j in range(len(p.agi))]
        + [f"asterisk-{i}" for i in range(len(p.asterisk))]
        + [f"redis-{k}" for k in _redis_order(_cluster(settings))]
        + [f"sentinel-{k}" for k in range(len(p.sentinels))]
    )


def restart(settings: Settings, node: str, say: Say = print) -> None:
    """Restart one node ("agi-0", "asterisk-1", "redis-2", "sentinel-0", "kamailio")."""
    c = _cluster(settings)
    kind, _, index = node.partition("-")
    try:
        n = int(index) if index else -1
    except ValueError:
        n = -1
    counts = {"agi": len(c.plan.agi), "asterisk": len(c.plan.asterisk),
              "redis": len(c.plan.redis), "sentinel": len(c.plan.sentinels)}  # fmt: skip
    if node == "kamailio":
        return _restart_kamailio(c, say)
    if kind not in counts or not 0 <= n < counts[kind]:
        raise ValueError(f"no node {node!r}: one of {', '.join(nodes(settings))}, kamailio")
    {"agi": _restart_agi, "asterisk": _restart_asterisk, "redis": _restart_redis,
     "sentinel": _restart_sentinel}[kind](c, n, say)  # fmt: skip
    return None


def upgrade(settings: Settings, say: Say = print) -> None:
    """Every node in turn (`nodes`): each one is back and serving before the next."""
    for node in nodes(settings):
        restart(settings, node, say)


def _restart_agi(c: cluster.Cluster, j: int, say: Say) -> None:
    run_dir = c.dir / f"agi-{j}" / "run"
    t0 = time.monotonic()
    procs.stop("agi", run_dir=run_dir, grace_s=_drain_bound_s(c))  # SIGTERM: it drains
    say(f"agi-{j}: drained and stopped in {time.monotonic() - t0:.1f}s")
    cluster.up_agi(c, j, START_S)
    say(f"agi-{j}: serving again")


def _restart_asterisk(c: cluster.Cluster, i: int, say: Say) -> None:
    uri = f"sip:127.0.0.1:{c.plan.asterisk[i]['sip']}"
    kamailio.set_node_state(c.dir, uri, "d")
    say(f"asterisk-{i}: out of the dispatcher")
    time.sleep(IN_FLIGHT_S)
    t0 = time.monotonic()
    layout = stack.Layout(Settings.from_env(c.asterisk_env(i)))
    pid = procs.running_pid("asterisk", run_dir=layout.run_dir)
    if pid is not None:
        rx = asterisk_rx(layout, "core stop gracefully")
        gone = procs.wait_for(lambda: procs.running_pid("asterisk", run_dir=layout.run_dir)
                              is None, _drain_bound_s(c), interval_s=0.2)  # fmt: skip
        if not gone:
            say(f"asterisk-{i}: calls still up at the bound; stopping it")
        procs.stop("asterisk", run_dir=layout.run_dir)
        _reap(rx)
    say(f"asterisk-{i}: its calls ended, stopped in {time.monotonic() - t0:.1f}s")
    cluster.up_asterisk(c, i, START_S)
    kamailio.set_node_state(c.dir, uri, "a")
    if not procs.wait_for(lambda: kamailio.node_flags(c.dir).get(uri, "").startswith("A"),
                          START_S, interval_s=0.2):  # fmt: skip
        raise stack.StackError(f"asterisk-{i}: Kamailio did not take it back")
    say(f"asterisk-{i}: back in the dispatcher")


def asterisk_rx(layout: stack.Layout, command: str) -> subprocess.Popen[bytes]:
    """`asterisk -rx COMMAND` inside the node's root (its own mount namespace, as it runs);
    started, not waited for: `core stop gracefully` answers only when Asterisk exits."""
    script = ('set -e; mount --bind "$1" "$2/ivr"; '
              f'exec chroot "$2" /usr/sbin/asterisk -C {stack.ASTERISK_CONF} -rx "$3"')  # fmt: skip
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
            str(layout.settings.state_dir), str(layout.root), command]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _redis_order(c: cluster.Cluster) -> list[int]:
    """The replicas first, the primary last (it hands over before it stops)."""
    primary = c.primary()
    first = [k for k in range(len(c.plan.redis)) if primary != c.redis_addr(k)]
    return first + [k for k in range(len(c.plan.redis)) if k not in first]


def _client(at: redis_ha.Addr, password: str) -> redis.Redis:
    host, port = redis_ha.addr(at)
    return redis.Redis(host=host, port=port, password=password, socket_timeout=2,
                       socket_connect_timeout=2)  # fmt: skip


def _restart_redis(c: cluster.Cluster, k: int, say: Say) -> None:
    password = c.password()
    if c.primary() == c.redis_addr(k):  # from the edge namespace in a netns topology
        c.at(_hand_over, c, c.redis_addr(k), password, say)
    procs.stop(f"redis-{k}", run_dir=c.run_dir)
    say(f"redis-{k}: stopped (a replica)")
    cluster.up_store(c, START_S)  # back as a replica of the current primary, settled
    c.at(_wait_in_sync, c, password)
    say(f"redis-{k}: back, in sync")


def _wait_in_sync(c: cluster.Cluster, password: str) -> None:
    """Every replica past its full sync: the next node may stop (or take over) safely."""

    def in_sync() -> bool:
        primary = redis_ha.current_primary(c.sentinel_addrs, password)
        return primary is not None and redis_ha.replicas_in_sync(
            primary[1], password, len(c.plan.redis) - 1
        )

    if not procs.wait_for(in_sync, START_S, interval_s=0.1):
        raise stack.StackError("the replicas did not catch up with the primary; see logs/")


def _hand_over(c: cluster.Cluster, port: tuple[str, int], password: str, say: Say) -> None:
    """Writes wait (CLIENT PAUSE WRITE) while Sentinel promotes a replica that holds every
    write; once every Sentinel names it, the old primary is made its replica (by us:
    Sentinel would do it only on its next look), which ends the wait with READONLY, and
    the clients' retry reaches the new primary (store.redisconn): no write is lost."""
    _wait_in_sync(c, password)
    old = _client(port, password)
    replicas = len(c.plan.redis) - 1
    try:
        old.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        whole = lambda: redis_ha.replicas_in_sync(port, password, replicas, whole=True)  # noqa: E731
        if not procs.wait_for(whole, 3.0, interval_s=0.02):
            old.execute_command("CLIENT", "UNPAUSE")
            raise stack.StackError("the replicas did not catch up: no handover")
        sentinel = _client(c.sentinel_addrs[0], password)
        try:
            sentinel.execute_command("SENTINEL", "FAILOVER", redis_ha.SERVICE)
        finally:
            sentinel.close()
        new: list[tuple[str, int]] = []

        def switched() -> bool:
            now = redis_ha.current_primary(c.sentinel_addrs, password)
            if now is None or now == port:
                return False
            new.append(now)
            return True

        ok = procs.wait_for(switched, PAUSE_MS / 2000, interval_s=0.05)
        if ok:  # promoted; clients resolve from the Sentinels' tables, updated a bit later
            procs.wait_for(lambda: redis_ha.sentinels_name(c.sentinel_addrs, password, new[-1]),
                           PAUSE_MS / 2000, interval_s=0.05)  # fmt: skip
            # Only now: REPLICAOF releases the paused writes (READONLY), whose retry must
            # find the new primary in those tables.
            old.execute_command("REPLICAOF", new[-1][0], new[-1][1])
        old.execute_command("CLIENT", "UNPAUSE")
    finally:
        old.close()
    if not ok:
        raise stack.StackError("the Sentinels did not fail over within the pause")
    say(f"redis: primary handed over to {new[-1][0]}:{new[-1][1]}")


def _restart_sentinel(c: cluster.Cluster, k: int, say: Say) -> None:
    procs.stop(f"sentinel-{k}", run_dir=c.run_dir)
    cluster.up_store(c, START_S)
    say(f"sentinel-{k}: restarted, the Sentinels agree again")


def _restart_kamailio(c: cluster.Cluster, say: Say) -> None:
    """The one part with no twin here: SIP in flight while it is down is retransmitted by
    the callers (UDP), calls already up keep going (Kamailio holds no dialog state)."""
    t0 = time.monotonic()
    procs.stop("kamailio", run_dir=c.run_dir)
    kamailio.up(
        c.plan, c.dir, START_S, at=c.at, prefix=tuple(cluster_netns.wrap(c.plan, "kamailio", []))
    )
    say(f"kamailio: restarted, {time.monotonic() - t0:.1f}s without a SIP front")
