"""deploy/systemd: every unit and drop-in, installed by install.sh into a root of the test's
own beside Debian's asterisk.service (from the Asterisk root file system) and
redis-server.service, passes `systemd-analyze verify` without a word (it works with no
systemd running: it reads the files and checks each command exists), carries the hardening,
and a unit with a mistake in it does not pass."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.config.settings import Settings
from tests.stackutil import REPO

UNITS = REPO / "deploy" / "systemd"
HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "LimitNOFILE=")
CHECKED = [
    "etc/systemd/system/ivr-agi.service",
    "etc/systemd/system/ivr-login.service",
    "lib/systemd/system/asterisk.service",  # with asterisk.service.d/ivr.conf
    "lib/systemd/system/redis-server.service",  # with redis-server.service.d/ivr.conf
]


def put(root: Path, path: str, source: Path) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    done = subprocess.run(["bash", str(UNITS / "install.sh"), "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # systemd's own targets, and the Debian units the drop-ins extend
    shutil.copytree("/lib/systemd/system", tmp_path / "lib/systemd/system", dirs_exist_ok=True,
                    symlinks=True)  # fmt: skip
    asterisk_root = Settings.from_env().cache_dir / "rootfs"
    put(tmp_path, "lib/systemd/system/asterisk.service",
        asterisk_root / "lib/systemd/system/asterisk.service")  # fmt: skip
    # the commands the units run, where a VM has them (the venv's ivrctl: docs/operations.md)
    put(tmp_path, "/usr/sbin/asterisk", asterisk_root / "usr/sbin/asterisk")
    put(tmp_path, "/opt/ivr/bin/ivrctl", REPO / ".venv" / "bin" / "ivrctl")
    put(tmp_path, "/usr/bin/redis-server", Path("/usr/bin/redis-server"))
    put(tmp_path, "/bin/kill", Path("/bin/kill"))
    return tmp_path


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *CHECKED],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_unit_and_drop_in_passes_systemd_analyze_verify(root: Path) -> None:
    done = verify(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "" and done.stderr == ""  # not even an ignored key
    assert (root / "etc/systemd/system/asterisk.service.d/ivr.conf").exists()
    redis_conf = (root / "etc/ivr/redis.conf").read_text()
    assert "include /run/credentials/redis-server.service/redis_auth_conf" in redis_conf
    assert (root / "usr/local/lib/ivr/ivr-asterisk").stat().st_mode & 0o111
    assert (root / "etc/ivr/secrets").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mistake", ["Bogus=1", "ExecStartPre=/nonexistent/ivr-check"])
def test_a_unit_with_a_mistake_does_not_pass(root: Path, mistake: str) -> None:
    unit = root / "etc/systemd/system/ivr-agi.service"
    unit.write_text(unit.read_text().replace("[Service]\n", f"[Service]\n{mistake}\n"))
    done = verify(root)
    assert done.returncode != 0 or "Unknown key 'Bogus'" in done.stderr


def test_units_are_hardened_and_take_secrets_as_credentials() -> None:
    for path in [*UNITS.glob("*.service"), *UNITS.glob("*.service.d/*.conf")]:
        text = path.read_text()
        for directive in HARDENING:
            assert re.search(rf"^{re.escape(directive)}", text, re.M), (path.name, directive)
        for line in re.findall(r"^Environment=(.*)$", text, re.M):
            for name, value in (item.split("=", 1) for item in line.split()):
                if re.search("PASSWORD|SECRET|PEPPER|PGPASS", name):  # a path, never a value
                    assert name.endswith(("FILE", "_DIR")) and value.startswith("%d"), name
        for cred in re.findall(r"^LoadCredential=[^:]+:(\S+)$", text, re.M):
            assert cred.startswith("/etc/ivr/secrets/"), (path.name, cred)
    agi = (UNITS / "ivr-agi.service").read_text()
    assert "User=ivr" in agi and "DynamicUser=yes" in (UNITS / "ivr-login.service").read_text()
    assert "User=ivr" in (UNITS / "asterisk.service.d" / "ivr.conf").read_text()  # shares the log
