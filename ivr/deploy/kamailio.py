"""Kamailio in front of the cluster's Asterisk nodes: its rendered config and its process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dialplan import render as dialplan
from ivr.config.secret_files import private_dir, write_private
from ivr.deploy import probes, procs, stack
from ivr.deploy.cluster_plan import Plan
from loadgen import ports


def module_path() -> str:
    found = sorted(Path("/usr/lib").glob("*/kamailio/modules"))
    if not found:
        raise stack.StackError("no Kamailio modules under /usr/lib: run `make setup`")
    return str(found[0]) + "/"


def up(plan: Plan, state_dir: Path, timeout_s: float) -> None:
    """Kamailio on the cluster's public SIP port, ready once it answers OPTIONS itself.

    Its files in ``state_dir``/kamailio, its pid in run/, its output in logs/kamailio.out."""
    run_dir = state_dir / "run"
    if procs.running_pid("kamailio", run_dir=run_dir):
        return
    if not ports.udp_free("127.0.0.1", plan.sip_port):
        raise stack.StackError(f"kamailio: SIP port {plan.sip_port} is already in use")
    kdir = private_dir(state_dir / "kamailio")
    private_dir(kdir / "run")
    nodes = "".join(f"1 sip:127.0.0.1:{a['sip']} 0 0\n" for a in plan.asterisk)
    write_private(kdir / "dispatcher.list", nodes)
    t = plan.topology
    cfg = dialplan.render_kamailio(
        {
            "children": "4",
            "sip_host": "127.0.0.1",
            "sip_port": str(plan.sip_port),
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
    ok = lambda: (probes.sip_options("127.0.0.1", plan.sip_port) or "").endswith("200 OK")  # noqa: E731
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
