"""SIP over TLS with SRTP on a single node (IVR_SIP_TLS_PORT; docs/security.md).

A self-signed certificate for 127.0.0.1; baresip (Debian's, with its `srtp` module) calls
over TLS with SRTP mandatory (`mediaenc=srtp-mand`: no call without SRTP keys in the
answer) and keys a password with RFC 4733 events, which then travel inside SRTP. The call
sets a password that verifies, and a capture of the TLS port holds no SIP in the clear.
Partial: the service's BYE does not reach baresip over TLS (the phone hangs up itself).
"""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from tests.e2e.baresip import Baresip
from tests.e2e.test_agi_link import Capture
from tests.stackutil import Stack, free_port

pytestmark = pytest.mark.e2e

WEST, NUMBER, PASSWORD = "0664806430", "0690077051", "82736451"


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("siptls")
    cert, key = base / "sip.crt", base / "sip.key"
    os.close(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600))  # 0600 before openssl writes
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    s = Stack.new(base / "state", IVR_SIP_TLS_PORT=str(free_port()),
                  IVR_SIP_TLS_CERT_FILE=str(cert), IVR_SIP_TLS_KEY_FILE=str(key))  # fmt: skip
    try:
        s.up()
        csv = base / "subs.csv"
        csv.write_text(f"contract_number,number\n{NUMBER},{NUMBER}\n")
        s.ivrctl("subscribers", "import", str(csv))
        yield s, cert
    finally:
        s.down()


async def _dial(s: Stack, cert, workdir) -> list[dict]:
    port = int(s.env["IVR_SIP_TLS_PORT"])
    # baresip also listens for TLS (the service's BYE may open a connection): a certificate
    pem = workdir / "baresip.pem"
    pem.write_text(cert.read_text() + (cert.parent / "sip.key").read_text())
    pem.chmod(0o600)
    extra = f"sip_cafile {cert}\nsip_certificate {pem}\nmodule srtp.so\n"
    async with Baresip(NUMBER, workdir, extra_config=extra,
                       account_params=";mediaenc=srtp-mand") as phone:  # fmt: skip
        reply = await phone.command("dial", f"sip:{WEST}@127.0.0.1:{port};transport=tls")
        assert reply.get("ok"), reply
        await phone.wait_event("CALL_ESTABLISHED", timeout_s=15)
        for delay, keys in ((1.0, "1"), (1.5, PASSWORD), (3.5, PASSWORD)):
            await asyncio.sleep(delay)  # keys barge into the prompts, as a caller's do
            assert (await phone.command("sndcode", keys)).get("ok")
        # the call ends on the service's side (完了, then BYE); that BYE does not reach
        # baresip over TLS yet (docs/security.md), so the phone hangs up after the set
        await asyncio.to_thread(s.wait_for_line, lambda e: e.end is not None, 40)
        await phone.command("hangup")
        return phone.events


def test_a_call_over_tls_with_srtp_sets_the_password(tls_stack, tmp_path):
    s, cert = tls_stack
    capture = Capture("lo", tmp_path / "tls.pcap", f"tcp port {s.env['IVR_SIP_TLS_PORT']}")
    asyncio.run(_dial(s, cert, tmp_path))
    wire = capture.stop()
    assert [e.end.outcome for e in s.log_lines() if e.end is not None] == ["set"]
    verify = s.ivrctl("tpw", "verify", NUMBER, "-", stdin=PASSWORD, check=False)
    assert verify.stdout.strip() == "ok"
    port = int(s.env["IVR_SIP_TLS_PORT"]).to_bytes(2, "big")
    assert port in wire and len(wire) > 3000  # the call's signalling crossed it, in TLS
    assert b"INVITE sip:" not in wire and NUMBER.encode() not in wire
