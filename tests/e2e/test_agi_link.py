"""The keyed digits never cross a network in the clear (docs/security.md "The digits' path").

Two hosts: this one runs Asterisk alone (`stack up` with IVR_AGI_SERVERS), a test host in a
network namespace runs the FastAGI server with its Redis; `ivrctl agi-link` puts stunnel
(TLS, pre-shared key) on both ends of the link between them. tcpdump on the veth during a
real SIPp dial-in finds TLS and no keyed digit. As proof that the check can fail, the
client end is then stopped, Asterisk falls over to the same server's plain port, and the
second call's password and AGI lines are in the capture.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config.secret_files import private_dir, read_or_create
from ivr.deploy import probes, procs, stack
from ivr.flow.calllog import read_lines
from loadgen.sipp import CallSpec, run_call
from tests.e2e.test_calls import full
from tests.netns import leftovers, ns_host
from tests.stackutil import IVRCTL, REPO, Stack, alive, free_port, mounts_under

pytestmark = pytest.mark.e2e

DID = "0664806430"
CALLS = {"0690077011": "58203917", "0690077012": "64019283"}  # TLS call, plain call


class Capture:
    """tcpdump of one interface into a pcap file, from its 'listening' line to stop()."""

    def __init__(self, interface: str, path: Path, bpf: str = "tcp") -> None:
        self.path = path
        argv = ["tcpdump", "-i", interface, "-U", "-s", "0", "-w", str(path), *bpf.split()]
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()  # blocks until tcpdump listens (or dies)
        assert "listening on" in line, line

    def stop(self) -> bytes:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return self.path.read_bytes()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    base = tmp_path_factory.mktemp("agilink")
    far = base / "agihost"
    started: list[tuple[str, Path]] = []
    with ns_host() as host:
        agi_port, tls_port, client_port = free_port(), free_port(), free_port()
        near = Stack.new(base / "asterisk", IVR_DATABASE_URL=f"sqlite:///{base / 'ivr.db'}",
                         IVR_AGI_SERVERS=f"127.0.0.1:{client_port},{host.ns_ip}:{agi_port}",
                         IVR_AGI_LINK_KEY_FILE=str(base / "agi-link-key"))  # fmt: skip
        far_env = {
            **near.env,
            "IVR_STATE_DIR": str(far),
            "IVR_AGI_HOST": "0.0.0.0",  # loopback for stunnel, the veth for the plain proof
            "IVR_AGI_PORT": str(agi_port),
            "IVR_AGI_ALLOW": f"127.0.0.0/8,{host.host_ip}/32",
            "IVR_METRICS_HOST": host.ns_ip,
            "IVR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "IVR_REDIS_PASSWORD_FILE": str(base / "redis-password"),
            "IVR_PEPPER_FILE": str(near.state_dir / "pepper"),
            "IVR_AGI_SECRET_FILE": str(near.state_dir / "agi-secret"),
        }
        far_env.pop("IVR_AGI_SERVERS")
        try:
            near.up()  # Asterisk alone; migrates the shared directory, makes pepper and secret
            for name, argv in _far_argv(far, far_env):
                procs.start(name, host.argv(*argv), run_dir=far / "run",
                            log=far / "logs" / f"{name}.out", env=far_env)  # fmt: skip
                started.append((name, far / "run"))
            metrics = int(far_env["IVR_METRICS_PORT"])
            healthy = lambda: probes.http_status(host.ns_ip, metrics, "/healthz") == 200  # noqa: E731
            assert procs.wait_for(healthy, 30), (far / "logs" / "agi.out").read_text()[-2000:]
            link = [*IVRCTL, "agi-link", "up"]
            subprocess.run(host.argv(*link, "--server", "--accept", f"{host.ns_ip}:{tls_port}",
                                     "--connect", f"127.0.0.1:{agi_port}"),
                           env=far_env, cwd=REPO, check=True, timeout=40)  # fmt: skip
            near.ivrctl("agi-link", "up", "--client", "--accept", f"127.0.0.1:{client_port}",
                        "--connect", f"{host.ns_ip}:{tls_port}")  # fmt: skip
            csv = base / "subs.csv"
            csv.write_text("contract_number,number,region,active\n"
                           + "".join(f"{n},{n},west,1\n" for n in CALLS))  # fmt: skip
            near.ivrctl("subscribers", "import", str(csv))
            yield near, host, far_env, tls_port
        finally:
            pids = [int(p.read_text().split()[0]) for p in base.glob("**/run/*.pid")]
            near.ivrctl("agi-link", "down", check=False)
            subprocess.run(host.argv(*IVRCTL, "agi-link", "down"), env=far_env, cwd=REPO,
                           timeout=40, capture_output=True)  # fmt: skip
            for name, run_dir in reversed(started):
                procs.stop(name, run_dir=run_dir)
            near.down()
    assert [p for p in pids if alive(p)] == []
    assert mounts_under(base) == []
    assert leftovers() == []


def _far_argv(far: Path, env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """The test host's own Redis (on its loopback) and the FastAGI server."""
    password = read_or_create(Path(env["IVR_REDIS_PASSWORD_FILE"]))
    redis_port = int(env["IVR_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    data = private_dir(far / "redis")
    redis = stack.durable_redis_argv(redis_port, data, password=password)
    return [("redis", redis), ("agi", [sys.executable, "-m", "ivr.service.serve", "--quiet"])]


def _dial(near: Stack, number: str, workdir: Path) -> None:
    workdir.mkdir()
    spec = CallSpec(did=DID, caller_from=number, schedule=full("1", CALLS[number]),
                    timeout_s=40.0)  # fmt: skip
    result = asyncio.run(run_call(spec, "127.0.0.1", near.sip_port, workdir))
    assert result.ok, result


def _outcome(far_env: dict[str, str], number: str) -> list[str]:
    log = Path(far_env["IVR_STATE_DIR"]) / "logs" / "calls.jsonl"
    ends = [e.end for e in read_lines(log)[0] if e.end is not None and e.end.caller == number]
    return [end.outcome for end in ends]


def _verify(host, far_env: dict[str, str], number: str) -> str:
    argv = host.argv(*IVRCTL, "tpw", "verify", number, CALLS[number])
    out = subprocess.run(argv, env=far_env, cwd=REPO, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def test_no_keyed_digit_crosses_the_link_in_the_clear(hosts, tmp_path):
    near, host, far_env, tls_port = hosts
    tls_call, plain_call = CALLS

    capture = Capture(host.host_if, tmp_path / "tls.pcap")
    _dial(near, tls_call, tmp_path / "tls")
    wire = capture.stop()
    assert _outcome(far_env, tls_call) == ["set"]
    assert _verify(host, far_env, tls_call) == "ok"
    assert tls_port.to_bytes(2, "big") in wire and len(wire) > 4000  # the call crossed here
    assert CALLS[tls_call].encode() not in wire
    for clear in (b"agi_callerid", b"200 result=", tls_call.encode()):
        assert clear not in wire

    # the same check on a plain link finds the digits: Asterisk falls over to the plain port
    near.ivrctl("agi-link", "down")
    capture = Capture(host.host_if, tmp_path / "plain.pcap")
    _dial(near, plain_call, tmp_path / "plain")
    wire = capture.stop()
    assert _outcome(far_env, plain_call) == ["set"]
    assert CALLS[plain_call].encode() in wire and b"agi_callerid" in wire
