"""Bad set-up gets one clear line and an exit code, never a traceback (issue 9, item 7)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from store.pepper import load_or_create
from tests.stackutil import free_port


def ivrctl(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "IVR_STATE_DIR": str(tmp_path / "state"), **env}
    full.pop("IVR_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    load_or_create(tmp_path / "state" / "pepper")  # so the port is what fails
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = ivrctl(
            tmp_path,
            "serve",
            IVR_AGI_PORT=str(port),
            IVR_METRICS_PORT=str(free_port()),
            IVR_REDIS_PORT=str(free_port()),
        )
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("ivrctl serve: ") and "address already in use" in line, line


@pytest.mark.parametrize(
    "name,value",
    [
        ("IVR_AGI_PORT", "70000"),
        ("IVR_SIP_PORT", "five"),
        ("IVR_EARLY_MEDIA", "yes"),
        ("IVR_TRIES", "0"),  # 0 is "off" only for caps and limits; never a silent default
        ("IVR_LIMIT_WINDOW_S", "0"),
        ("IVR_REDIS_REPLICA_TIMEOUT_MS", "0"),
    ],
)
def test_invalid_settings_are_one_line(tmp_path: Path, name: str, value: str) -> None:
    done = ivrctl(tmp_path, "stack", "status", **{name: value})
    assert done.returncode == 2
    assert name in one_line(done)


def test_zero_turns_a_cap_or_limit_off() -> None:
    from ivr.config.settings import Settings

    settings = Settings.from_env(
        {"IVR_AGI_MAX_CALLS": "0", "IVR_MAX_CALLS": "0", "IVR_LIMIT_CALLS_PER_HOUR": "0"}
    )
    assert (settings.agi_max_calls, settings.max_calls, settings.limits.calls_per_hour) == (0, 0, 0)
