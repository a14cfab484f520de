"""`ivrctl cluster up | down | status`: the scale-out topology on one machine (docs/scale-out.md).

Kamailio on the public SIP port dispatches calls over N Asterisk nodes (each a stack's
chrooted Asterisk in its own private mount namespace and state dir), which try M FastAGI
servers in turn; the servers share the pepper, the AGI secret, the Redis password and a
PostgreSQL directory, and reach the store through Sentinel (primary, replicas, three
Sentinels). `up` on a running cluster starts only what is not running (a Redis node that
died rejoins as a replica of the current primary); `down` stops everything by recorded pid
and drops the database `up` created. With `"netns": 1` each store node and FastAGI server
runs in a network namespace of its own (ivr.deploy.cluster_netns).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

from ivr.config.secret_files import private_dir, read_or_create, write_private
from ivr.config.settings import Settings
from ivr.deploy import cluster_netns, kamailio, probes, procs, redis_ha, stack
from ivr.deploy.cluster_plan import PLAN_FILE, Plan, Topology, new_database_name
from login.settings import api_address
from store.db import create_database, drop_database

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"  # the machine's server


class Cluster:
    """Paths and per-node settings of one cluster (state dir = settings.state_dir)."""

    def __init__(self, settings: Settings, plan: Plan) -> None:
        self.settings, self.plan = settings, plan
        self.dir = settings.state_dir
        self.run_dir = self.dir / "run"

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.out"

    def redis_addr(self, i: int) -> tuple[str, int]:
        return self.plan.host(f"redis-{i}"), self.plan.redis[i]

    @property
    def sentinel_addrs(self) -> list[tuple[str, int]]:
        return [(self.plan.host(f"sentinel-{k}"), p) for k, p in enumerate(self.plan.sentinels)]

    def at(self, fn, *args):  # type: ignore[no-untyped-def]
        """fn(*args) from where every node is reachable (the edge namespace, or here)."""
        return cluster_netns.at_edge(self.plan, lambda: fn(*args))

    def primary(self) -> tuple[str, int] | None:
        return self.at(redis_ha.current_primary, self.sentinel_addrs, self.password())

    @property
    def redis_url(self) -> str:
        return redis_ha.sentinel_url(self.sentinel_addrs)

    def shared_env(self) -> dict[str, str]:
        return {
            "IVR_AGI_SECRET_FILE": str(self.dir / "agi-secret"),
            "IVR_PEPPER_FILE": str(self.dir / "pepper"),
            "IVR_REDIS_PASSWORD_FILE": str(self.dir / "redis-password"),
            "IVR_REDIS_URL": self.redis_url,
            "IVR_DATABASE_URL": self.plan.database_url,
            "IVR_REDIS_REPLICAS": str(min(1, self.plan.topology.redis_replicas)),
            "IVR_REDIS_REPLICA_TIMEOUT_MS": str(self.plan.topology.replica_timeout_ms),
        }

    def asterisk_env(self, i: int) -> dict[str, str]:
        node = self.plan.asterisk[i]
        return {
            **os.environ,
            **self.shared_env(),
            "IVR_STATE_DIR": str(self.dir / f"asterisk-{i}"),
            # a node listens on loopback and takes calls from Kamailio alone
            "IVR_SIP_HOST": "127.0.0.1",
            "IVR_SIP_TRUSTED": "127.0.0.1/32",
            "IVR_SIP_PORT": str(node["sip"]),
            "IVR_AMI_PORT": str(node["ami"]),
        }

    def agi_env(self, j: int) -> dict[str, str]:
        node, host = self.plan.agi[j], self.plan.host(f"agi-{j}")
        edge = {"IVR_AGI_HOST": host, "IVR_METRICS_HOST": host,  # Asterisk calls from the edge
                "IVR_AGI_ALLOW": f"{self.plan.host(cluster_netns.EDGE)}/32"}  # fmt: skip
        return {
            **os.environ,
            **self.shared_env(),
            "IVR_STATE_DIR": str(self.dir / f"agi-{j}"),
            "IVR_AGI_PORT": str(node["agi"]),
            "IVR_METRICS_PORT": str(node["metrics"]),
            **(edge if self.plan.netns else {}),
        }

    def agi_order(self, i: int) -> list[str]:
        """The FastAGI servers node i tries, starting at its own (spreads the load)."""
        hosts = [f"{self.plan.host(f'agi-{j}')}:{a['agi']}" for j, a in enumerate(self.plan.agi)]
        return hosts[i % len(hosts) :] + hosts[: i % len(hosts)]

    def password(self) -> str:
        return read_or_create(self.dir / "redis-password")


def _plan(settings: Settings, topology_file: Path | None, netns: bool) -> Plan:
    plan = Plan.load(settings.state_dir)
    if plan is not None:
        return plan
    topology = Topology.load(topology_file)
    private_dir(settings.state_dir)
    for old in settings.state_dir.glob("sentinel-*"):  # they name an old plan's ports
        shutil.rmtree(old)
    if netns or topology.netns:  # PostgreSQL on the host's loopback: unreachable from there
        topology = dataclasses.replace(topology, netns=1)
        url, created = cluster_netns.directory_url(settings.state_dir), ""
    elif os.environ.get("IVR_DATABASE_URL"):
        url, created = settings.database_url, ""
    else:
        url, created = create_database(ADMIN_URL, new_database_name())
    plan = Plan.new(topology, settings, url, created)
    if topology.netns:
        plan = dataclasses.replace(plan, netns=cluster_netns.layout(topology))
    plan.save(settings.state_dir)
    return plan


def up(
    settings: Settings,
    topology_file: Path | None = None,
    timeout_s: float = 60.0,
    *,
    netns: bool = False,
) -> list[str]:
    """Start every part that is not running; status lines. StackError after a full stop."""
    from store.directory import migrate  # noqa: PLC0415
    from store.pepper import load_or_create  # noqa: PLC0415

    os.umask(0o077)
    plan = _plan(settings, topology_file, netns)
    c = Cluster(settings, plan)
    try:
        if plan.netns:
            cluster_netns.ensure(plan)
        for d in (c.dir, c.dir / "logs", c.run_dir):
            private_dir(d)
        read_or_create(c.dir / "agi-secret")
        load_or_create(c.dir / "pepper")
        migrate(plan.database_url)
        up_store(c, timeout_s)
        for j in range(len(plan.agi)):
            up_agi(c, j, timeout_s)
        for i in range(len(plan.asterisk)):
            up_asterisk(c, i, timeout_s)
        kamailio.up(plan, c.dir, timeout_s, trusted=settings.sip_trusted, at=c.at,
                    prefix=tuple(cluster_netns.wrap(plan, "kamailio", [])),
                    public_host=settings.sip_host, peers_file=settings.sip_peers_file)  # fmt: skip
        up_api(c, timeout_s)
    except BaseException:
        down(settings)
        raise
    return status(settings)


def _running(name: str, run_dir: Path) -> bool:
    return procs.running_pid(name, run_dir=run_dir) is not None


def _launch_store_node(c: Cluster, name: str, argv: list[str], port: int, timeout_s: float) -> None:
    """A Redis node or a Sentinel of the cluster, ready once its port accepts."""
    host = c.plan.host(name)
    ready = lambda: c.at(probes.tcp_accepts, host, port)  # noqa: E731
    stack.launch(name, cluster_netns.wrap(c.plan, name, argv), run_dir=c.run_dir, log=c.log(name),
                 ready=ready, timeout_s=timeout_s)  # fmt: skip


def up_store(c: Cluster, timeout_s: float) -> None:
    password = c.password()
    primary = c.primary()
    for i, port in enumerate(c.plan.redis):
        if _running(f"redis-{i}", c.run_dir):
            continue
        if primary is None:  # a new cluster: the first node leads
            leader = None if i == 0 else c.redis_addr(0)
        else:  # a restart: follow whoever the Sentinels name, unless that is this node
            leader = None if primary == c.redis_addr(i) else primary
        # a topology without replicas cannot refuse unreplicated writes: it has none
        argv = redis_ha.node_argv(port, c.dir / f"redis-{i}", password, replica_of=leader,
                                  bind=c.plan.host(f"redis-{i}"),
                                  min_replicas=min(1, len(c.plan.redis) - 1))  # fmt: skip
        _launch_store_node(c, f"redis-{i}", argv, port, timeout_s)
    first = primary or c.redis_addr(0)
    for k, (host, port) in enumerate(c.sentinel_addrs):
        if _running(f"sentinel-{k}", c.run_dir):
            continue
        down_ms = c.plan.topology.sentinel_down_after_ms
        argv = redis_ha.sentinel_argv(port, c.dir / f"sentinel-{k}", password, first, bind=host,
                                      down_after_ms=down_ms)  # fmt: skip
        _launch_store_node(c, f"sentinel-{k}", argv, port, timeout_s)
    replicas = len(c.plan.redis) - 1

    def settled() -> bool:
        now = redis_ha.current_primary(c.sentinel_addrs, password)
        return (
            now is not None
            and redis_ha.replicas_online(now, password) >= replicas
            and all(
                redis_ha.sentinels_agree(p, password, len(c.plan.sentinels), replicas)
                for p in c.sentinel_addrs
            )
        )

    if not procs.wait_for(lambda: c.at(settled), timeout_s, interval_s=0.2):
        raise stack.StackError("the store did not settle (replicas, Sentinels); see logs/")


def up_agi(c: Cluster, j: int, timeout_s: float) -> None:
    settings = Settings.from_env(c.agi_env(j))
    run_dir = settings.state_dir / "run"
    if _running("agi", run_dir):
        return
    for d in (settings.state_dir, settings.log_dir, run_dir):
        private_dir(d)
    argv = cluster_netns.wrap(c.plan, f"agi-{j}", [sys.executable, "-m", "ivr.service.serve",
                                                    "--quiet"])  # fmt: skip
    ok = lambda: c.at(probes.http_status, settings.metrics_host, settings.metrics_port,  # noqa: E731
                      "/healthz") == 200  # fmt: skip
    stack.launch("agi", argv, run_dir=run_dir, log=settings.log_dir / "agi.out", ready=ok,
                 timeout_s=timeout_s, env=c.agi_env(j))  # fmt: skip


def up_api(c: Cluster, timeout_s: float) -> None:
    """The login service on the cluster's store, on IVR_API_HOST:IVR_API_PORT (docs/api.md)."""
    env = {**os.environ, **c.shared_env(), "IVR_STATE_DIR": str(c.dir / "api"),
           "IVR_API_TOKENS_FILE": str(c.dir / "api-tokens")}  # fmt: skip
    run_dir = c.dir / "api" / "run"
    if _running("api", run_dir):
        return
    for d in (c.dir / "api", c.dir / "api" / "logs", run_dir):
        private_dir(d)
    host, port = api_address(env)
    ok = lambda: c.at(probes.http_status, host, port, "/healthz") == 200  # noqa: E731
    argv = cluster_netns.wrap(c.plan, "api", [sys.executable, "-m", "login", "--quiet"])
    log = c.dir / "api" / "logs" / "api.out"
    stack.launch("api", argv, run_dir=run_dir, log=log, ready=ok, timeout_s=timeout_s, env=env)


def up_asterisk(c: Cluster, i: int, timeout_s: float) -> None:
    layout = stack.Layout(Settings.from_env(c.asterisk_env(i)))
    if _running("asterisk", layout.run_dir):
        return
    node = c.plan.asterisk[i]
    stack.prepare_asterisk(
        layout, agi_servers=c.agi_order(i), rtp=(node["rtp_start"], node["rtp_end"])
    )
    calls_log = layout.settings.calls_log  # the node's own call.end lines (no server reached)
    if not calls_log.exists():
        write_private(calls_log, "")
    ok = lambda: c.at(probes.sip_options, "127.0.0.1", node["sip"]) is not None  # noqa: E731
    argv = cluster_netns.wrap(c.plan, "asterisk", stack.asterisk_argv(layout))
    stack.launch("asterisk", argv, run_dir=layout.run_dir, log=layout.log("asterisk"), ready=ok,
                 timeout_s=timeout_s)  # fmt: skip


def _components(c: Cluster) -> list[tuple[str, Path, str]]:
    """(pid name, run dir, where) of every part, in start order."""
    p = c.plan
    out = [
        (f"redis-{i}", c.run_dir, f"redis-{i} {p.host(f'redis-{i}')}:{port}")
        for i, port in enumerate(p.redis)
    ]
    out += [
        (f"sentinel-{k}", c.run_dir, f"sentinel-{k} {host}:{port}")
        for k, (host, port) in enumerate(c.sentinel_addrs)
    ]
    out += [
        ("agi", c.dir / f"agi-{j}" / "run", f"agi-{j} agi://{p.host(f'agi-{j}')}:{a['agi']}")
        for j, a in enumerate(p.agi)
    ]
    out += [
        ("asterisk", c.dir / f"asterisk-{i}" / "run", f"asterisk-{i} sip:127.0.0.1:{a['sip']}")
        for i, a in enumerate(p.asterisk)
    ]
    out.append(("kamailio", c.run_dir, f"kamailio sip:127.0.0.1:{p.sip_port}"))
    host, port = api_address({**os.environ, "IVR_STATE_DIR": str(c.dir / "api")})
    out.append(("api", c.dir / "api" / "run", f"api http://{host}:{port}/v1"))
    return out


def down(settings: Settings) -> list[str]:
    """Stop every part (reverse order), drop the created database; the stopped parts."""
    plan = Plan.load(settings.state_dir)
    if plan is None:
        return []
    c = Cluster(settings, plan)
    stopped = [
        where.split()[0]
        for name, run_dir, where in reversed(_components(c))
        if procs.stop(name, run_dir=run_dir)
    ]
    if plan.database_created:
        drop_database(ADMIN_URL, plan.database_created)
    if plan.netns:  # after every process in them has stopped
        cluster_netns.remove(plan)
    (settings.state_dir / PLAN_FILE).unlink(missing_ok=True)
    return stopped


def status(settings: Settings) -> list[str]:
    plan = Plan.load(settings.state_dir)
    if plan is None:
        return ["cluster   stopped   (no cluster.json in the state dir)"]
    c = Cluster(settings, plan)
    lines = []
    primary = c.primary()
    for name, run_dir, where in _components(c):
        pid = procs.running_pid(name, run_dir=run_dir)
        label, rest = where.split(" ", 1)
        if primary and label.startswith("redis-") and rest == f"{primary[0]}:{primary[1]}":
            rest += " (primary)"
        state = f"running   {rest} pid {pid}" if pid else f"stopped   {rest}"
        lines.append(f"{label:<11} {state}")
    return lines
