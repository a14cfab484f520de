"""`ivrctl agi-link up|down|status`: the FastAGI link between two hosts, in TLS (stunnel).

Why stunnel with a pre-shared key: Asterisk's AGI() speaks plain TCP only, and the keyed
password travels in its replies. stunnel (Debian's `stunnel4`) on each end carries that TCP
in TLS; the pre-shared key (TLS-PSK, identity "ivr") authenticates both ends at once, with
no certificate authority to run, and a peer without the key gets no byte through. On the
Asterisk host a client end listens on loopback (`IVR_AGI_SERVERS` names it); on the FastAGI
host a server end accepts from the network and connects to the FastAGI port on loopback.
Both ends read the same 0600 key file (`IVR_AGI_LINK_KEY_FILE`; `up` creates it when
missing: copy it to the other host as you copy the AGI secret).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ivr.config.secret_files import private_dir, read_or_create, write_private
from ivr.config.settings import Settings
from ivr.deploy import probes, procs, stack

IDENTITY = "ivr"
PREFIX = "agi-link-"  # pid names: agi-link-<accept port>


def key_path(settings: Settings) -> Path:
    return settings.agi_link_key_file or settings.state_dir / "agi-link-key"


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise stack.StackError(f"agi-link: {address!r} is not HOST:PORT")
    return host, int(port)


def config(*, client: bool, accept: str, connect: str, psk_file: Path) -> str:
    """One stunnel service: TLS 1.2+ with PSK only, no delay on the chatty AGI lines, and
    log level notice (connections, never data)."""
    lines = [
        "foreground = yes",
        "pid =",
        "syslog = no",
        "debug = notice",
        "socket = l:TCP_NODELAY=1",
        "socket = r:TCP_NODELAY=1",
        "[agi]",
        f"client = {'yes' if client else 'no'}",
        f"accept = {accept}",
        f"connect = {connect}",
        f"PSKsecrets = {psk_file}",
        *([f"PSKidentity = {IDENTITY}"] if client else []),
        "ciphers = PSK",
        "sslVersionMin = TLSv1.2",
    ]
    return "\n".join(lines) + "\n"


def up(
    settings: Settings, *, client: bool, accept: str, connect: str, timeout_s: float = 30.0
) -> list[str]:
    """Start one end; ready once its accept address takes connections."""
    binary = shutil.which("stunnel4") or shutil.which("stunnel")
    if binary is None:
        raise stack.StackError("agi-link: no stunnel4: run `make setup`")
    host, port = _split(accept)
    _split(connect)
    os.umask(0o077)
    run_dir = private_dir(settings.state_dir / "run")
    private_dir(settings.log_dir)
    name = f"{PREFIX}{port}"
    if procs.running_pid(name, run_dir=run_dir) is None:
        ldir = private_dir(settings.state_dir / "agi-link")
        key = read_or_create(key_path(settings), nbytes=32)
        psk = ldir / f"{port}.psk"
        write_private(psk, f"{IDENTITY}:{key}\n")
        conf = ldir / f"{port}.conf"
        write_private(conf, config(client=client, accept=accept, connect=connect, psk_file=psk))
        try:
            stack.launch(
                name,
                [binary, str(conf)],
                run_dir=run_dir,
                log=settings.log_dir / f"{name}.out",
                ready=lambda: probes.tcp_accepts(host, port),
                timeout_s=timeout_s,
            )
        except BaseException:
            procs.stop(name, run_dir=run_dir)
            raise
    return status(settings)


def _names(settings: Settings) -> list[str]:
    run_dir = settings.state_dir / "run"
    return sorted(p.stem for p in run_dir.glob(f"{PREFIX}*.pid")) if run_dir.exists() else []


def down(settings: Settings) -> list[str]:
    run_dir = settings.state_dir / "run"
    return [name for name in _names(settings) if procs.stop(name, run_dir=run_dir)]


def status(settings: Settings) -> list[str]:
    run_dir = settings.state_dir / "run"
    lines = []
    for name in _names(settings):
        pid = procs.running_pid(name, run_dir=run_dir)
        lines.append(f"{name:<15} {'running' if pid else 'stopped'}   pid {pid}")
    return lines or ["agi-link        stopped   (no end started here)"]
