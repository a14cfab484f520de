"""The real stack: up, status, down, two side by side, nothing left behind."""

from __future__ import annotations

import pytest

from ivr.config.settings import Settings
from ivr.deploy import probes
from tests.stackutil import Stack, alive, mounts_under

pytestmark = pytest.mark.e2e


def test_up_status_down_leaves_nothing(tmp_path):
    a = Stack.new(tmp_path / "a")
    b = Stack.new(tmp_path / "b")
    cache = Settings.from_env(a.env).cache_dir
    try:
        a.up()
        b.up()
        for s in (a, b):
            assert probes.sip_options("127.0.0.1", s.sip_port) is not None
            assert probes.tcp_accepts("127.0.0.1", int(s.env["IVR_AGI_PORT"]))
            status = s.ivrctl("stack", "status").stdout.splitlines()
            assert [line.split()[:2] for line in status] == [
                ["redis", "running"],
                ["agi", "running"],
                ["api", "running"],
                ["asterisk", "running"],
            ]
            assert (s.state_dir / "pepper").stat().st_mode & 0o777 == 0o600
        # a second `up` is a no-op that still succeeds
        assert a.pids() == (a.up(), a.pids())[1]
        # the private mounts exist only inside Asterisk's namespace
        assert mounts_under(tmp_path, cache / "rootfs") == []
    finally:
        pids = {
            **{f"a-{k}": v for k, v in a.pids().items()},
            **{f"b-{k}": v for k, v in b.pids().items()},
        }
        a.down()
        b.down()
    assert set(pids) == {f"{s}-{c}" for s in "ab" for c in ("redis", "agi", "api", "asterisk")}
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert mounts_under(tmp_path, cache / "rootfs") == []
    assert a.pids() == {} and b.pids() == {}
    status = a.ivrctl("stack", "status", check=False)
    assert status.returncode == 3 and "stopped" in status.stdout


def test_up_refuses_a_busy_port(tmp_path):
    a = Stack.new(tmp_path / "a")
    b = Stack.new(tmp_path / "b", IVR_SIP_PORT="")
    b.env["IVR_SIP_PORT"] = a.env["IVR_SIP_PORT"]
    try:
        a.up()
        result = b.ivrctl("stack", "up", check=False)
        assert result.returncode == 1
        assert "asterisk: its port is already in use" in result.stderr
        assert [pid for pid in b.pids().values() if alive(pid)] == []
    finally:
        a.down()
        b.down()


def test_apology_and_503_before_answer_when_the_agi_server_is_down(tmp_path):
    import asyncio

    from ivr.deploy import procs
    from loadgen.sipp import CallSpec, run_call

    s = Stack.new(tmp_path / "s")
    try:
        s.up()
        assert procs.stop("agi", run_dir=s.state_dir / "run")
        spec = CallSpec(
            did="0664806430",
            caller_from="0312345678",
            timeout_s=20,
            refused_with=503,
            expect_service_bye=False,
        )
        result = asyncio.run(run_call(spec, "127.0.0.1", s.sip_port, tmp_path / "sipp"))
        assert result.ok, result.describe()  # 183, the apology as early media, 503; no 200
        assert result.elapsed_s < 10, result.elapsed_s
        assert result.elapsed_s > 5  # the apology (tpw/sorry, ~7 s) was played, not dead air
        messages = (s.state_dir / "asterisk" / "log" / "messages.log").read_text()
        assert "does not exist" not in messages
    finally:
        s.down()
