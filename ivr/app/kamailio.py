"""Kamailio in front of the cluster's Asterisk nodes: its rendered config and its process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dialplan import render as dialplan
from ivr.app import probes, procs, stack
from ivr.app.secret_files import private_dir, write_private

if TYPE_CHECKING:
    from ivr.app.cluster import Cluster


def module_path() -> str:
    found = sorted(Path("/usr/lib").glob("*/kamailio/modules"))
    if not found:
        raise stack.StackError("no Kamailio modules under /usr/lib: run `make setup`")
    return str(found[0]) + "/"


def up(c: Cluster, timeout_s: float) -> None:
    """Kamailio on the cluster's public SIP port, ready once it answers OPTIONS itself."""
    if procs.running_pid("kamailio", run_dir=c.run_dir):
        return
    if not probes.udp_port_free("127.0.0.1", c.plan.sip_port):
        raise stack.StackError(f"kamailio: SIP port {c.plan.sip_port} is already in use")
    kdir = private_dir(c.dir / "kamailio")
    private_dir(kdir / "run")
    nodes = "".join(f"1 sip:127.0.0.1:{a['sip']} 0 0\n" for a in c.plan.asterisk)
    write_private(kdir / "dispatcher.list", nodes)
    t = c.plan.topology
    cfg = dialplan.render_kamailio(
        {
            "children": "4",
            "sip_host": "127.0.0.1",
            "sip_port": str(c.plan.sip_port),
            "mpath": module_path(),
            "no_answer_ms": str(t.no_answer_ms),
            "dispatcher_list": str(kdir / "dispatcher.list"),
            "ping_from": "sip:dispatcher@127.0.0.1",
            "probe_interval_s": str(t.probe_interval_s),
            "pike_density": str(t.pike_density),
            "ctl_socket": str(kdir / "run" / "kamailio_ctl"),
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
    ok = lambda: (probes.sip_options("127.0.0.1", c.plan.sip_port) or "").endswith("200 OK")  # noqa: E731
    stack.launch(
        "kamailio", argv, run_dir=c.run_dir, log=c.log("kamailio"), ready=ok, timeout_s=timeout_s
    )
