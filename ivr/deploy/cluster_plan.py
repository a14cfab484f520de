"""What `ivrctl cluster` runs: the topology (counts, tunables) and the plan (ports, database).

The topology comes from a JSON file (`--topology FILE` or IVR_CLUSTER_TOPOLOGY) or the
defaults; `cluster up` turns it into a plan with free loopback ports and a database name,
recorded in $IVR_STATE_DIR/cluster.json (no secret in it) so `down`, `status` and a second
`up` (which restarts what died) find every part again. With `"netns": 1` the plan also names
the network namespaces and their addresses (ivr.deploy.cluster_netns).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ivr.config.settings import Settings
from loadgen.ports import free_port

PLAN_FILE = "cluster.json"
RTP_BLOCK = 2000  # media ports per Asterisk node, from 10000 up


@dataclass(frozen=True)
class Topology:
    asterisk_nodes: int = 2
    agi_servers: int = 2
    redis_replicas: int = 2  # a set waits for one; the primary may die for good
    probe_interval_s: int = 1  # Kamailio's OPTIONS to each node
    no_answer_ms: int = 1000  # a node silent this long gets the next node to try
    pike_density: int = 300  # requests per source per 2 s before pike blocks it
    replica_timeout_ms: int = 1000  # WAIT for a replica before the caller hears 完了
    sentinel_down_after_ms: int = 1000
    netns: int = 0  # 1: every Redis node, Sentinel and FastAGI server in a namespace of its own

    @classmethod
    def load(cls, path: Path | None) -> Topology:
        if path is None:
            return cls()
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"topology {path}: {exc}") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - known:
            raise ValueError(f"topology {path}: keys must be among {sorted(known)}")
        for key, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                if not (key in ("redis_replicas", "netns") and value == 0):
                    raise ValueError(f"topology {path}: {key} must be a positive integer")
        if raw.get("netns", 0) not in (0, 1):
            raise ValueError(f"topology {path}: netns is 0 (loopback) or 1 (namespaces)")
        if raw.get("asterisk_nodes", 1) * RTP_BLOCK + 10000 > 65000:
            raise ValueError(f"topology {path}: too many Asterisk nodes for the media ports")
        return cls(**raw)


@dataclass(frozen=True)
class Plan:
    topology: Topology
    sip_port: int  # Kamailio, the public SIP port
    database_url: str
    database_created: str  # the database `up` created and `down` drops ("" for none)
    asterisk: list[dict[str, int]]  # sip, ami, rtp_start, rtp_end
    agi: list[dict[str, int]]  # agi, metrics
    redis: list[int]  # data nodes; the first one starts as the primary
    sentinels: list[int]
    netns: dict[str, Any] = field(default_factory=dict)  # {"tag": …, "nodes": {name: address}}

    def host(self, name: str) -> str:
        """Where node `name` listens: its namespace's address, or loopback."""
        return str(self.netns["nodes"][name]) if self.netns else "127.0.0.1"

    @classmethod
    def new(cls, topology: Topology, settings: Settings, database_url: str, created: str) -> Plan:
        taken = {settings.sip_port}
        return cls(
            topology=topology,
            sip_port=settings.sip_port,
            database_url=database_url,
            database_created=created,
            asterisk=[
                {
                    "sip": free_port(taken),
                    "ami": free_port(taken),
                    "rtp_start": 10000 + i * RTP_BLOCK,
                    "rtp_end": 10000 + (i + 1) * RTP_BLOCK - 1,
                }
                for i in range(topology.asterisk_nodes)
            ],
            agi=[
                {"agi": free_port(taken), "metrics": free_port(taken)}
                for _ in range(topology.agi_servers)
            ],
            redis=[free_port(taken) for _ in range(1 + topology.redis_replicas)],
            sentinels=[free_port(taken) for _ in range(3)],
        )

    def save(self, state_dir: Path) -> None:
        from ivr.config.secret_files import write_private  # noqa: PLC0415

        write_private(state_dir / PLAN_FILE, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Plan | None:
        path = state_dir / PLAN_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["topology"] = Topology(**raw["topology"])
        return cls(**raw)


def new_database_name() -> str:
    return f"ivr_cluster_{secrets.token_hex(6)}"
