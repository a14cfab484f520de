"""Kamailio in front of the cluster's Asterisk nodes: its rendered config and its process."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from dialplan import render as dialplan
from ivr.config.secret_files import private_dir, read_secret, write_private
from ivr.deploy import probes, procs, stack
from ivr.deploy.cluster_plan import Plan
from loadgen import ports


def module_path() -> str:
    found = sorted(Path("/usr/lib").glob("*/kamailio/modules"))
    if not found:
        raise stack.StackError("no Kamailio modules under /usr/lib: run `make setup`")
    return str(found[0]) + "/"


def trusted_list(networks: tuple[str, ...]) -> str:
    """The permissions module's address file: group 1 holds the trusted networks."""
    nets = [ipaddress.ip_network(n, strict=False) for n in networks]
    return "".join(f"1 {n.network_address} {n.prefixlen} 0\n" for n in nets)


def peer_tables(peers: list[tuple[str, str]]) -> dict[str, str]:
    """db_text's files for auth_db: the subscriber table (user, plain password) and version."""
    rows = "".join(f"{i}:{user}::{password}::\n" for i, (user, password) in enumerate(peers, 1))
    return {
        "version": "table_name(string) table_version(int) \nsubscriber:7\n",
        "subscriber": "id(int,auto) username(string) domain(string,null) password(string) "
        "ha1(string,null) ha1b(string,null) \n" + rows,
    }


def read_peers(path: Path) -> list[tuple[str, str]]:
    """IVR_SIP_PEERS_FILE: `user password` lines (0600, refused otherwise)."""
    peers = []
    for line in read_secret(path).splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2 or any(":" in p for p in parts):
            raise stack.StackError(f"{path}: each line is `user password` (no ':')")
        peers.append((parts[0], parts[1]))
    return peers


def listen_lines(public_host: str, port: int) -> str:
    """Loopback toward the nodes (and the probes), plus the public address when another."""
    hosts = ["127.0.0.1"] + ([public_host] if public_host != "127.0.0.1" else [])
    return "\n".join(f"listen=udp:{h}:{port}" for h in hosts)


def up(
    plan: Plan,
    state_dir: Path,
    timeout_s: float,
    *,
    trusted: tuple[str, ...] = ("127.0.0.1/32",),
    public_host: str = "127.0.0.1",
    peers_file: Path | None = None,
    prefix: tuple[str, ...] = (),
    at: Callable[..., object] = lambda fn, *args: fn(*args),
) -> None:
    """Kamailio on the cluster's public SIP port, ready once it answers OPTIONS (a 403 when
    loopback is not trusted is an answer too). prefix, at: how to start it in and probe it
    from the cluster's edge namespace (ivr.deploy.cluster_netns).

    Its files in ``state_dir``/kamailio, its pid in run/, its output in logs/kamailio.out."""
    run_dir = state_dir / "run"
    if procs.running_pid("kamailio", run_dir=run_dir):
        return
    if not at(ports.udp_free, "127.0.0.1", plan.sip_port):
        raise stack.StackError(f"kamailio: SIP port {plan.sip_port} is already in use")
    kdir = private_dir(state_dir / "kamailio")
    private_dir(kdir / "run")
    nodes = "".join(f"1 sip:127.0.0.1:{a['sip']} 0 0\n" for a in plan.asterisk)
    write_private(kdir / "dispatcher.list", nodes)
    write_private(kdir / "trusted.list", trusted_list(trusted))
    peers_dir = private_dir(kdir / "peers")
    if peers_file is not None:
        for name, text in peer_tables(read_peers(peers_file)).items():
            write_private(peers_dir / name, text)
    t = plan.topology
    cfg = dialplan.render_kamailio(
        {
            "children": "4",
            "listen": listen_lines(public_host, plan.sip_port),
            "trusted_list": str(kdir / "trusted.list"),
            "node_socket": f"udp:127.0.0.1:{plan.sip_port}",
            "peers_define": "#!define WITH_PEERS" if peers_file else "# no digest peers",
            "peers_dir": str(peers_dir),
            "mpath": module_path(),
            "no_answer_ms": str(t.no_answer_ms),
            "dispatcher_list": str(kdir / "dispatcher.list"),
            "ping_from": "sip:dispatcher@127.0.0.1",
            "probe_interval_s": str(t.probe_interval_s),
            "pike_density": str(t.pike_density),
            "ctl_socket": str(ctl_socket(state_dir)),
        }
    )
    write_private(kdir / "kamailio.cfg", cfg)
    argv = [
        *prefix,
        "kamailio",
        "-f",
        str(kdir / "kamailio.cfg"),
        "-DD",
        "-E",
        "-Y",
        str(kdir / "run"),
        "-m",
        "64",
        "-M",
        "8",
    ]
    ok = lambda: at(probes.sip_options, "127.0.0.1", plan.sip_port) is not None  # noqa: E731
    stack.launch(
        "kamailio",
        argv,
        run_dir=run_dir,
        log=state_dir / "logs" / "kamailio.out",
        ready=ok,
        timeout_s=timeout_s,
    )


def ctl_socket(state_dir: Path) -> Path:
    return state_dir / "kamailio" / "run" / "ctl.sock"


def _kamcmd(state_dir: Path, *args: str) -> str:
    proc = subprocess.run(
        ["kamcmd", "-s", f"unix:{ctl_socket(state_dir)}", *args],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise stack.StackError(f"kamcmd {args[0]}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def set_node_state(state_dir: Path, uri: str, state: str) -> None:
    """ "d": disabled (no new call, not even probed); "a": active again."""
    _kamcmd(state_dir, "dispatcher.set_state", state, "1", uri)


def node_flags(state_dir: Path) -> dict[str, str]:
    """{node URI: dispatcher flags} (AP: active and probed, DX: disabled, IP: down)."""
    text = _kamcmd(state_dir, "dispatcher.list")
    return dict(re.findall(r"URI: (\S+)\s+FLAGS: (\S+)", text))
