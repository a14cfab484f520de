"""The cluster's store: a Redis primary, its replicas and three Sentinels, all with one password.

Every data node fsyncs each write (durable_redis_argv) and knows the password both as
server (requirepass) and as replica (masterauth), so any of them can become the primary
or follow a new one. Sentinels rewrite their own config files, so those are written once
and kept across restarts; a data node restarted after a failover rejoins as a replica of
the primary the Sentinels name now.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import redis

from ivr.config.secret_files import private_dir, write_private
from ivr.deploy.stack import durable_redis_argv

SERVICE = "ivr"
MAX_LAG_S = 1  # min-replicas-max-lag: replicas ACK every second
Addr = int | tuple[str, int]  # a loopback port, or (host, port) in a netns topology


def addr(a: Addr) -> tuple[str, int]:
    return ("127.0.0.1", a) if isinstance(a, int) else (a[0], int(a[1]))


def node_argv(
    port: int,
    data_dir: Path,
    password: str,
    *,
    replica_of: tuple[str, int] | None,
    bind: str = "127.0.0.1",
    max_lag_s: int = MAX_LAG_S,
    min_replicas: int = 1,
) -> list[str]:
    """redis-server for one data node; replica_of None: it starts as the primary.

    As a primary it refuses every write (scripts too) while no replica has acknowledged
    within max_lag_s: a primary cut off from its replicas stops taking sets and stops
    answering verifies from a state a promoted replica no longer shares.
    """
    private_dir(data_dir)
    # A restarted replica's full sync starts at once (the default waits 5 s for others).
    extra = f"masterauth {password}\nrepl-diskless-sync-delay 0\n"
    extra += f"min-replicas-to-write {min_replicas}\nmin-replicas-max-lag {max_lag_s}\n"
    if replica_of is not None:
        extra += f"replicaof {replica_of[0]} {replica_of[1]}\n"
    return durable_redis_argv(port, data_dir, password=password, extra_conf=extra, bind=bind)


def sentinel_argv(
    port: int,
    data_dir: Path,
    password: str,
    primary: tuple[str, int],
    *,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 10000,
    bind: str = "127.0.0.1",
) -> list[str]:
    """redis-sentinel watching the primary (quorum 2 of 3); its config is written once."""
    private_dir(data_dir)
    conf = data_dir / "sentinel.conf"
    if not conf.exists():
        write_private(
            conf,
            f"port {port}\nbind {bind}\ndaemonize no\nprotected-mode yes\n"
            f'dir "{data_dir}"\nlogfile ""\nrequirepass {password}\n'
            f"sentinel sentinel-pass {password}\n"
            f"sentinel monitor {SERVICE} {primary[0]} {primary[1]} 2\n"
            f"sentinel auth-pass {SERVICE} {password}\n"
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n",
        )
    binary = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
    return [binary, str(conf)]


def sentinel_url(sentinels: Sequence[Addr]) -> str:
    """The URL store.redisconn.connect follows (no password in it)."""
    hosts = ",".join("{}:{}".format(*addr(a)) for a in sentinels)
    return f"redis+sentinel://{hosts}/{SERVICE}"


def _client(at: Addr, password: str) -> redis.Redis:
    host, port = addr(at)
    return redis.Redis(
        host=host, port=port, password=password, socket_timeout=1, socket_connect_timeout=1,
        decode_responses=True,
    )  # fmt: skip


def current_primary(sentinels: Sequence[Addr], password: str) -> tuple[str, int] | None:
    """The primary the first answering Sentinel names, or None when none answers."""
    for port in sentinels:
        client = _client(port, password)
        try:
            addr = client.sentinel_get_master_addr_by_name(SERVICE, return_responses=True)
        except redis.RedisError:
            continue
        finally:
            client.close()
        if addr:
            return str(addr[0]), int(addr[1])
    return None


def replicas_online(port: Addr, password: str) -> int:
    """How many replicas the node at port serves now (0 when it does not answer)."""
    client = _client(port, password)
    try:
        info = client.info("replication")
    except redis.RedisError:
        return 0
    finally:
        client.close()
    return int(info.get("connected_slaves", 0)) if info.get("role") == "master" else 0


def sentinels_agree(port: Addr, password: str, sentinels: int, replicas: int) -> bool:
    """This Sentinel knows the other Sentinels and the replicas (a failover can be voted)."""
    client = _client(port, password)
    try:
        master = client.sentinel_master(SERVICE, return_responses=True)  # parsed
    except redis.RedisError:
        return False
    finally:
        client.close()
    return (
        int(master.get("num-other-sentinels", 0)) >= sentinels - 1
        and int(master.get("num-slaves", 0)) >= replicas
    )


def replicas_in_sync(port: Addr, password: str, replicas: int, *, whole: bool = False) -> bool:
    """The primary at port streams to this many replicas, each past its full sync (online)
    and at most a second behind; with `whole` (writes paused), holding the whole stream
    (replicas report their offset every second): one of them can take over."""
    client = _client(port, password)
    try:
        info = client.info("replication")
    except redis.RedisError:
        return False
    finally:
        client.close()
    offset = int(info.get("master_repl_offset", 0))
    links = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    online = [
        r for r in links
        if r.get("state") == "online" and int(r.get("lag", 99)) <= 1
        and (not whole or int(r.get("offset", -1)) >= offset)
    ]  # fmt: skip
    return info.get("role") == "master" and len(online) >= replicas


def sentinels_name(ports: Sequence[Addr], password: str, addr: tuple[str, int]) -> bool:
    """Every Sentinel's table (what clients resolve the primary from) names addr, with no
    failover in progress: a client connecting now reaches it."""
    for port in ports:
        client = _client(port, password)
        try:
            master = client.sentinel_master(SERVICE, return_responses=True)
        except redis.RedisError:
            return False
        finally:
            client.close()
        flags = str(master.get("flags", ""))
        if (str(master.get("ip")), int(master.get("port", 0))) != addr or "failover" in flags:
            return False
    return True
