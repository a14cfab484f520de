"""`ivrctl stack up | down | status`: Asterisk (chrooted), the FastAGI server, a private Redis.

Asterisk runs from the cached Debian testing root in a private mount namespace: the state
dir, the rendered prompts and /proc are mounted only inside it, so when Asterisk exits the
kernel drops those mounts and nothing ever stays mounted on the host.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dialplan import render as dialplan
from ivr.config import variables as var
from ivr.config.secret_files import private_dir, read_or_create, write_private
from ivr.config.settings import Settings
from ivr.deploy import probes, procs, sip_edge
from loadgen import ports
from login.settings import api_address
from sounds import render as sounds

ASTERISK_CONF = "/ivr/asterisk/etc/asterisk.conf"  # the state dir is mounted at /ivr
# The dialplan's own backstop beyond the flow's maximum call duration.
HARD_LIMIT_MARGIN_S = 60
COMPONENTS = ("redis", "agi", "api", "asterisk")  # start order; stopped in reverse


class StackError(Exception):
    """The stack could not be started; the message says why and where to look."""


@dataclass(frozen=True)
class Layout:
    settings: Settings

    @property
    def root(self) -> Path:
        return self.settings.cache_dir / "rootfs"

    @property
    def run_dir(self) -> Path:
        return self.settings.state_dir / "run"

    @property
    def asterisk_dir(self) -> Path:
        return self.settings.state_dir / "asterisk"

    def log(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.out"


def dialplan_values(
    settings: Settings,
    *,
    moddir: str,
    ami_secret: str,
    agi_secret: str,
    agi_servers: list[str] | None = None,
    rtp: tuple[int, int] = (10000, 20000),
) -> dict[str, str]:
    """The dialplan templates' placeholders for one Asterisk.

    agi_servers: "host:port" of the FastAGI servers in the order the dialplan tries them
    (default: the stack's own); rtp: this Asterisk's media port range.
    """
    servers = agi_servers or list(settings.dialplan_agi_servers)
    return {
        "moddir": moddir,
        "sip_host": settings.sip_host,
        "sip_port": str(settings.sip_port),
        **sip_edge.values(settings),
        "agi_servers": "&".join(servers),
        "ami_port": str(settings.ami_port),
        "http_port": str(settings.asterisk_http_port),
        "ami_user": var.AMI_USER,
        "ami_secret": ami_secret,
        "agi_secret": agi_secret,
        "rtp_start": str(rtp[0]),
        "rtp_end": str(rtp[1]),
        "hard_limit_s": str(int(settings.timing.max_call_s) + HARD_LIMIT_MARGIN_S),
        "outcome_var": var.OUTCOME,
        "outcome_error": var.OUTCOME_ERROR,
        "step_var": var.STEP,
        "refuse_var": var.REFUSE_STATUS,
        "keys_var": var.KEYS,
        "call_end_script": var.CALL_END_SCRIPT,
        "busy_var": var.AGI_BUSY,
        "early_media": "1" if settings.early_media else "0",
        # the state dir is mounted at /ivr inside Asterisk's root
        "calls_log": "/ivr/" + str(settings.calls_log.relative_to(settings.state_dir)),
    }


def write_asterisk_config(out_dir: Path, mapping: dict[str, str]) -> list[Path]:
    """The rendered templates, each file 0600 from its first byte; returns the files."""
    written = []
    for name, text in dialplan.render(mapping).items():
        write_private(out_dir / name, text)
        written.append(out_dir / name)
    return written


def _moddir(root: Path) -> str:
    found = sorted(root.glob("usr/lib/*/asterisk/modules"))
    if not found:
        raise StackError(f"no Asterisk modules under {root}: run `make setup`")
    return "/" + str(found[0].relative_to(root))


def prepare_asterisk(
    layout: Layout, *, agi_servers: list[str] | None = None, rtp: tuple[int, int] = (10000, 20000)
) -> None:
    """One Asterisk's private dirs and rendered config (a stack's, or a cluster node's)."""
    s = layout.settings
    if not (layout.root / "usr/sbin/asterisk").exists():
        raise StackError(f"no Asterisk root at {layout.root}: run `make setup`")
    if not sounds.is_rendered(s.cache_dir):
        raise StackError("prompts are not rendered for this catalog: run `make sounds`")
    os.umask(0o077)  # what the stack and its children create is the owner's alone
    for private in (s.state_dir, s.log_dir, layout.run_dir, layout.asterisk_dir):
        private_dir(private)
    for sub in ("etc", "lib", "spool", "run", "log", "cache"):
        (layout.asterisk_dir / sub).mkdir(parents=True, exist_ok=True)
    sip_edge.install(s, layout.asterisk_dir / "etc")
    write_asterisk_config(
        layout.asterisk_dir / "etc",
        dialplan_values(
            s,
            moddir=_moddir(layout.root),
            ami_secret=read_or_create(s.state_dir / "ami-secret"),
            agi_secret=read_or_create(s.agi_secret_path),
            agi_servers=agi_servers,
            rtp=rtp,
        ),
    )


def prepare(layout: Layout) -> None:
    """State dirs, pepper, rendered Asterisk config, migrated directory."""
    from store.directory import migrate  # noqa: PLC0415 (keeps `stack status` light)
    from store.pepper import load_or_create  # noqa: PLC0415

    s = layout.settings
    prepare_asterisk(layout)
    if s.private_redis:
        read_or_create(s.redis_password_path)
    load_or_create(s.pepper_file)
    migrate(s.database_url)


def asterisk_argv(layout: Layout) -> list[str]:
    script = (
        'set -e; mount --bind "$1" "$2/ivr"; '
        'mount --bind "$3" "$2/usr/share/asterisk/sounds/ja"; '
        'mount -t proc proc "$2/proc"; '
        f'exec chroot "$2" /usr/sbin/asterisk -C {ASTERISK_CONF} -f -n -q'
    )
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        str(layout.settings.state_dir),
        str(layout.root),
        str(sounds.sounds_dir(layout.settings.cache_dir)),
    ]


def durable_redis_argv(
    port: int,
    data_dir: Path,
    logfile: str = "",
    *,
    password: str | None = None,
    extra_conf: str = "",
    bind: str = "127.0.0.1",
) -> list[str]:
    """redis-server that fsyncs every write before acknowledging it (append-only file).

    With a password (and extra_conf: e.g. replicaof, masterauth), it goes into a 0600
    config file in data_dir, never on the command line.
    """
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    conf: list[str] = []
    if password is not None or extra_conf:
        auth = f"requirepass {password}\n" if password is not None else ""
        write_private(data_dir / "redis.conf", auth + extra_conf)
        conf = [str(data_dir / "redis.conf")]
    return [server, *conf, "--port", str(port), "--bind", bind, "--dir", str(data_dir),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--logfile", logfile]  # fmt: skip


def _redis_argv(layout: Layout) -> list[str]:
    data = private_dir(layout.settings.state_dir / "redis")
    password = read_or_create(layout.settings.redis_password_path)
    return durable_redis_argv(layout.settings.redis_port, data, password=password)


def _ready(layout: Layout, name: str) -> bool:
    s = layout.settings
    if name == "redis":
        return probes.tcp_accepts("127.0.0.1", s.redis_port)
    if name == "agi":
        return probes.http_status(s.metrics_host, s.metrics_port, "/healthz") == 200
    if name == "api":
        return probes.http_status(*api_address(), "/healthz") == 200
    return probes.sip_options(s.sip_host, s.sip_port) is not None


def _check_free(layout: Layout, name: str) -> None:
    s = layout.settings
    busy = {
        "redis": lambda: not ports.tcp_free("127.0.0.1", s.redis_port),
        "agi": lambda: (
            not ports.tcp_free(s.agi_host, s.agi_port)
            or not ports.tcp_free(s.metrics_host, s.metrics_port)
        ),
        "api": lambda: not ports.tcp_free(*api_address()),
        "asterisk": lambda: (
            not ports.udp_free(s.sip_host, s.sip_port)
            or not ports.tcp_free("127.0.0.1", s.ami_port)
            or not ports.tcp_free("127.0.0.1", s.asterisk_http_port)
        ),
    }[name]
    if busy():
        raise StackError(f"{name}: its port is already in use (see `ivrctl stack status`)")


def _wanted(layout: Layout) -> list[str]:
    if layout.settings.agi_servers:  # an Asterisk-only node: servers and store elsewhere
        return ["asterisk"]
    return [c for c in COMPONENTS if c != "redis" or layout.settings.private_redis]


def up(settings: Settings, *, timeout_s: float = 60.0) -> list[str]:
    """Start what is not running; returns status lines. Raises StackError (after cleanup)."""
    layout = Layout(settings)
    prepare(layout)
    argv = {
        "redis": _redis_argv,
        "agi": lambda _l: [sys.executable, "-m", "ivr.service.serve", "--quiet"],
        "api": lambda _l: [sys.executable, "-m", "login", "--quiet"],  # the login service
        "asterisk": asterisk_argv,
    }
    try:
        for name in _wanted(layout):
            if procs.running_pid(name, run_dir=layout.run_dir):
                continue
            _check_free(layout, name)
            launch(
                name,
                argv[name](layout),
                run_dir=layout.run_dir,
                log=layout.log(name),
                ready=lambda n=name: _ready(layout, n),
                timeout_s=timeout_s,
            )
    except BaseException:
        down(settings)
        raise
    return status(settings)


def launch(
    name: str,
    argv: list[str],
    *,
    run_dir: Path,
    log: Path,
    ready: Callable[[], bool],
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> int:
    """Start one component and wait until ready() holds; its pid, or StackError with the
    tail of its log (the caller stops what it started)."""
    procs.start(name, argv, run_dir=run_dir, log=log, env=env)
    ok = procs.wait_for(
        lambda: ready() or procs.running_pid(name, run_dir=run_dir) is None, timeout_s
    )
    alive = procs.running_pid(name, run_dir=run_dir)
    if not ok or alive is None:
        raise StackError(f"{name} did not become ready; see {log}:\n" + _tail(log))
    return alive


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def down(settings: Settings) -> list[str]:
    layout = Layout(settings)
    stopped = []
    for name in reversed(COMPONENTS):
        if procs.stop(name, run_dir=layout.run_dir):
            stopped.append(name)
    return stopped


def status(settings: Settings) -> list[str]:
    layout = Layout(settings)
    s = settings
    where = {
        "redis": f"redis://127.0.0.1:{s.redis_port}",
        "agi": f"agi://{s.agi_host}:{s.agi_port}, metrics http://{s.metrics_host}:{s.metrics_port}",
        "api": "http://{}:{}/v1 (login service, docs/api.md)".format(*api_address()),
        "asterisk": f"sip:{s.sip_host}:{s.sip_port} (udp), ami 127.0.0.1:{s.ami_port}, "
        f"metrics http://127.0.0.1:{s.asterisk_http_port}/metrics",
    }
    lines = []
    for name in COMPONENTS if not s.agi_servers else _wanted(layout):
        if name == "redis" and not s.private_redis:
            lines.append(f"redis     external  {s.redis_url}")
            continue
        pid = procs.running_pid(name, run_dir=layout.run_dir)
        state = f"running   {where[name]} pid {pid}" if pid else f"stopped   {where[name]}"
        lines.append(f"{name:<9} {state}")
    return lines
