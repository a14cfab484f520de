"""Install capacity benchmark (c), the classic deployment, into a stack's state dir.

Asterisk runs the AGI script in its chroot, where the state dir is /ivr. So the script,
pyst2's `asterisk` package (with `six`, which it imports and the root lacks), this repo's
`store` package and the service's caller-ID rule are copied to <state>/classic (0700; files
0600, the script 0700), with config.json naming in-chroot paths. No secret is copied: the
script reads the pepper and the Redis password from their own files under /ivr. The root
has no Alembic, so the copy's `store.migrations` is a stub: a look-up never migrates.

`dialplan(did)` is this benchmark's part of extensions_local.conf (the rendered
extensions.conf ends with `#tryinclude extensions_local.conf`); `install` writes it there as
a marked block, leaving other blocks alone. `python -m benchmarks.classic.install [--did D]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import asterisk
import six

import store
from ivr.config.secret_files import private_dir
from ivr.config.settings import Settings
from ivr.flow import callerid

DID = "0000000002"
CONTEXT = "bench-classic"
IN_CHROOT = Path("/ivr")  # where the stack mounts the state dir inside Asterisk's root
SCRIPT = Path(__file__).with_name("tmp_password_agi.py")
LOCAL_CONF = "extensions_local.conf"
MIGRATIONS_STUB = '''"""Stub: the chroot has no Alembic, and a directory look-up never migrates."""


def migrate(url):
    raise RuntimeError("migrations are not available in the classic benchmark's copy")
'''


def inside(settings: Settings, path: Path) -> str:
    """A path of the state dir as Asterisk's chroot sees it."""
    try:
        return str(IN_CHROOT / Path(path).absolute().relative_to(settings.state_dir))
    except ValueError:
        raise ValueError(f"{path} is outside the state dir: the chroot cannot see it") from None


def config(settings: Settings) -> dict[str, object]:
    """What the script needs, as paths and URLs valid inside the chroot (no secrets)."""
    prefix = "sqlite:///"
    if not settings.database_url.startswith(prefix):
        raise ValueError("the classic benchmark reads the directory from SQLite only")
    return {
        "database_url": prefix + inside(settings, Path(settings.database_url[len(prefix) :])),
        "redis_url": settings.redis_url,
        "redis_password_file": inside(settings, settings.redis_password_path),
        "pepper_file": inside(settings, settings.pepper_file),
        "calls_log": inside(settings, settings.calls_log),
        "first_key_s": settings.timing.first_key_s,
        "inter_key_s": settings.timing.inter_key_s,
        "tries": settings.timing.tries,
        "limits": {
            "calls_per_hour": settings.limits.calls_per_hour,
            "failed_per_hour": settings.limits.failed_per_hour,
            "window_s": settings.limits.window_s,
        },
        "replicas": settings.redis_replicas,
        "replica_timeout_ms": settings.redis_replica_timeout_ms,
    }


def dialplan(did: str, *, max_call_s: int = 300, calls_log: str = "/ivr/logs/calls.jsonl") -> str:
    """Context bench-classic (one AGI process per call) and the DID that leads to it.

    Should the script not start at all (AGISTATUS FAILURE), the dialplan logs the call.end.
    """
    if not did.isdigit():
        raise ValueError(f"a DID is digits only, not {did!r}")
    script = IN_CHROOT / "classic" / SCRIPT.name
    line = (
        '{"event": "call.end", "call_id": "${FILTER(0123456789.,${UNIQUEID})}", '
        '"caller": "${FILTER(0123456789+,${CALLERID(num)})}", "did": "${EXTEN}", '
        '"unit": null, "target": null, "outcome": "error_internal", "step": "caller_check", '
        '"strikes": 0, "duration_ms": 0, "answered": false, "level": "warning", '
        '"source": "classic-dialplan", "timestamp": "${STRFTIME(,,%Y-%m-%dT%H:%M:%S.%3q%z)}"}'
    )
    return (
        f"[tmp-password-in]\nexten => {did},1,Goto({CONTEXT},${{EXTEN}},1)\n\n"
        f"; Capacity benchmark (c): the same dial-in as one Python process per call.\n"
        f"[{CONTEXT}]\n"
        f"exten => _X.,1,Set(CHANNEL(language)=ja)\n"
        f" same => n,Set(TIMEOUT(absolute)={int(max_call_s)})\n"
        f" same => n,AGI({script})\n"
        f' same => n,GotoIf($["${{AGISTATUS}}" != "FAILURE"]?done)\n'
        f" same => n,Set(FILE({calls_log},,,al)={line})\n"
        f" same => n(done),Hangup()\n"
    )


def extend_local(path: Path, name: str, text: str) -> None:
    """Put text into extensions_local.conf as block `name`, replacing an older one."""
    begin, end = f"; --- begin {name} ---\n", f"; --- end {name} ---\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        old = head + rest.split(end, 1)[1]
    _write(path, old + begin + text + end)


def install(settings: Settings, *, did: str = DID) -> None:
    """The script and its libraries into <state>/classic, and its dialplan into etc/."""
    private_dir(settings.state_dir)
    target = private_dir(settings.state_dir / "classic")
    _copy_tree(Path(asterisk.__file__).parent, target / "asterisk")
    _copy_tree(Path(store.__file__).parent, target / "store", skip={"migrations"})
    private_dir(target / "store" / "migrations")
    _write(target / "store" / "migrations" / "__init__.py", MIGRATIONS_STUB)
    _write(target / "six.py", Path(six.__file__).read_text(encoding="utf-8"))
    _write(target / "callerid.py", Path(callerid.__file__).read_text(encoding="utf-8"))
    _write(target / SCRIPT.name, SCRIPT.read_text(encoding="utf-8"), mode=0o700)
    _write(target / "config.json", json.dumps(config(settings), indent=2) + "\n")
    byte_compile(settings)
    etc = private_dir(settings.state_dir / "asterisk" / "etc")
    text = dialplan(
        did,
        max_call_s=int(settings.timing.max_call_s),
        calls_log=inside(settings, settings.calls_log),
    )
    extend_local(etc / LOCAL_CONF, CONTEXT, text)


def byte_compile(settings: Settings) -> None:
    """Bytecode of the copy by the root's own Python, as Debian compiles its packages: a
    process per call must not compile the store on every call (it would, with
    PYTHONDONTWRITEBYTECODE in Asterisk's environment). The same private mount as the stack's."""
    root = settings.cache_dir / "rootfs"
    if not (root / "usr/bin/python3").exists():
        raise ValueError(f"no python3 in {root}: rebuild it (scripts/build-rootfs.sh)")
    script = (
        'set -e; umask 077; mount --bind "$1" "$2/ivr"; '
        'exec chroot "$2" /usr/bin/python3 -m compileall -q /ivr/classic'
    )
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"]
    subprocess.run([*argv, str(settings.state_dir), str(root)], check=True, timeout=120)


def _write(path: Path, text: str, *, mode: int = 0o600) -> None:
    """A new file with its mode from creation (replaced, never rewritten in place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def _copy_tree(src: Path, dst: Path, *, skip: set[str] | frozenset[str] = frozenset()) -> None:
    """The package's .py files only (no bytecode of another Python), dirs 0700, files 0600."""
    private_dir(dst)
    for item in sorted(src.iterdir()):
        if item.name in skip or item.name == "__pycache__":
            continue
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        elif item.suffix == ".py":
            _write(dst / item.name, item.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--did", default=DID, help=f"the benchmark's DID (default {DID})")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    install(settings, did=args.did)
    print(f"classic: installed in {settings.state_dir / 'classic'}; DID {args.did}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
