"""The SIPp UAC against a SIPp UAS: keys really leave SIPp as RTP events.

No Asterisk here: a second SIPp answers, its SDP points the media at a Python UDP
socket, and the packets that arrive there must decode to the keys sent (repeated keys
included). Both endings are covered: the far end's BYE, and the caller hanging up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadgen import ports, sipp
from loadgen.ports import LOCAL_IP, release_ports, reserve_ports
from loadgen.rtp_pcap import decode_keys, keys_at
from loadgen.sipp import SIPP_BIN, CallOutcome, CallSpec, run_call

pytestmark = [pytest.mark.timeout(60), pytest.mark.e2e]  # SIPp, and root for raw RTP


def test_sipp_is_installed_and_we_can_send_raw_rtp():
    """`make setup` installs sipp; play_pcap_audio needs a raw socket (root). Never skip."""
    assert shutil.which(SIPP_BIN), "sipp is missing: run `make setup`"
    assert os.geteuid() == 0, "SIPp's play_pcap_audio needs root"


def uas_scenario(media_port: int, *, bye_after_ms: int | None) -> str:
    """Answer with SDP pointing at ``media_port``; then send BYE or wait for one."""
    answer = f"""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=uas[pid]T[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:uas@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=uas 1 1 IN IP4 {LOCAL_IP}
s=-
c=IN IP4 {LOCAL_IP}
t=0 0
m=audio {media_port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""
    ok = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
"""
    if bye_after_ms is None:
        capture = ""
        ending = f"""<recv request="BYE" timeout="30000"/>
  <send><![CDATA[
{ok}
]]></send>"""
    else:
        bye = """BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$uas_to];tag=uas[pid]T[call_number]
To: [$uac_from]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0
"""
        capture = """
    <action>
      <ereg regexp="^.*$" search_in="hdr" header="From:" assign_to="uac_from"/>
      <ereg regexp="^.*$" search_in="hdr" header="To:" assign_to="uas_to"/>
    </action>"""
        ending = f"""<pause milliseconds="{bye_after_ms}"/>
  <send retrans="500"><![CDATA[
{bye}
]]></send>
  <recv response="200" timeout="5000"/>"""
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="test uas">
  <recv request="INVITE" rrs="true">{capture}
  </recv>
  <send><![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
  <send retrans="500"><![CDATA[
{answer}
]]></send>
  <recv request="ACK"/>
  {ending}
</scenario>
"""


@dataclass
class Received:
    """RTP datagrams that reached the answer's media port, with arrival times."""

    packets: list[bytes]
    arrivals: list[float]

    def key_starts_s(self, payload_type: int = 101) -> list[float]:
        """Arrival of each key's first (marker) event packet, from the first packet."""
        t0 = self.arrivals[0]
        return [
            t - t0
            for p, t in zip(self.packets, self.arrivals, strict=True)
            if p[1] & 0x80 and p[1] & 0x7F == payload_type
        ]


class _Sink(asyncio.DatagramProtocol):
    """Collects the RTP payloads SIPp sends to the answer's media port."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.arrivals: list[float] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append(data)
        self.arrivals.append(time.monotonic())


async def _call_against_uas(
    tmp_path: Path, spec: CallSpec, *, bye_after_ms: int | None
) -> tuple[CallOutcome, Received, int]:
    """Run the UAS SIPp and the UAC call; returns outcome, media packets, UAS exit."""
    loop = asyncio.get_running_loop()
    transport, sink = await loop.create_datagram_endpoint(_Sink, local_addr=(LOCAL_IP, 0))
    sink_port = transport.get_extra_info("sockname")[1]
    ports = reserve_ports(1) + reserve_ports(4, even=True) + reserve_ports(1)
    uas_dir = tmp_path / "uas"
    uas_dir.mkdir(parents=True)
    scenario = uas_dir / "uas.xml"
    scenario.write_text(uas_scenario(sink_port, bye_after_ms=bye_after_ms))
    uas = await asyncio.create_subprocess_exec(
        SIPP_BIN,
        "-sf",
        str(scenario),
        "-nostdin",
        "-m",
        "1",
        "-i",
        LOCAL_IP,
        "-p",
        str(ports[0]),
        "-mi",
        LOCAL_IP,
        "-mp",
        str(ports[1]),
        "-ci",
        LOCAL_IP,
        "-cp",
        str(ports[5]),
        "-timeout",
        "30s",
        "-timeout_error",
        "-trace_err",
        "-error_file",
        str(uas_dir / "errors.log"),
        cwd=uas_dir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.sleep(0.3)  # let the UAS bind its SIP port
        outcome = await run_call(spec, LOCAL_IP, ports[0], tmp_path / "uac")
        uas_rc = await asyncio.wait_for(uas.wait(), 10)
        await asyncio.sleep(0.1)
        return outcome, Received(list(sink.packets), list(sink.arrivals)), uas_rc
    finally:
        if uas.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(uas.pid, 9)
            await uas.wait()
        transport.close()
        release_ports(ports)


def _rtp_fields(packets: list[bytes]) -> list[tuple[int, int, int]]:
    return [
        (p[1] & 0x7F, struct.unpack("!H", p[2:4])[0], struct.unpack("!I", p[4:8])[0])
        for p in packets
        if len(p) >= 12 and p[0] >> 6 == 2
    ]


def _assert_stream(received: Received, keys: str) -> None:
    packets = received.packets
    assert decode_keys(packets) == keys, f"{len(packets)} packets"
    fields = _rtp_fields(packets)
    seqs = [s for _, s, _ in fields]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))], "seq gap or reorder"
    assert fields[0][0] == 0  # the PCMU lead-in leaves first


async def test_keys_reach_media_port_and_far_end_hangs_up(tmp_path: Path) -> None:
    keys = "11223344#"
    schedule = keys_at(0.3, keys, gap_s=0.2)
    spec = CallSpec(
        did="0664806430",
        caller_from="0311112222",
        pai="0311112222",
        schedule=schedule,
        timeout_s=15,
    )
    outcome, received, uas_rc = await _call_against_uas(tmp_path, spec, bye_after_ms=2800)
    assert outcome.ok, outcome.describe()
    assert outcome.service_bye and not outcome.caller_bye
    assert uas_rc == 0
    _assert_stream(received, keys)
    # SIPp keeps the recorded timing: each key leaves at its scheduled offset.
    starts = received.key_starts_s()
    assert len(starts) == len(schedule)
    for got, press in zip(starts, schedule, strict=True):
        assert abs(got - press.at_s) < 0.05, (starts, [p.at_s for p in schedule])
    invite = outcome.messages.split("INVITE sip:", 1)[1]
    assert "P-Asserted-Identity: <sip:0311112222@127.0.0.1>" in invite
    assert "a=rtpmap:101 telephone-event/8000" in invite


async def test_caller_hangs_up(tmp_path: Path) -> None:
    keys = "9*0#"
    spec = CallSpec(
        did="0363044747",
        caller_from="0399998888",
        schedule=keys_at(0.2, keys),
        hangup_after_s=1.6,
        expect_service_bye=False,
        timeout_s=15,
    )
    outcome, received, uas_rc = await _call_against_uas(tmp_path, spec, bye_after_ms=None)
    assert outcome.ok, outcome.describe()
    assert outcome.caller_bye and not outcome.service_bye
    assert 1.5 < outcome.elapsed_s < 5, outcome.describe()
    assert uas_rc == 0
    _assert_stream(received, keys)


async def test_far_end_bye_before_caller_hangup_is_reported(tmp_path: Path) -> None:
    """A BYE that beats the caller's hang-up is answered, not an abort."""
    spec = CallSpec(
        did="0363044747",
        caller_from="0399998888",
        schedule=keys_at(0.2, "12"),
        hangup_after_s=5,
        expect_service_bye=False,
        timeout_s=15,
    )
    outcome, received, uas_rc = await _call_against_uas(tmp_path, spec, bye_after_ms=1000)
    assert outcome.exit_code == 0, outcome.describe()
    assert outcome.service_bye and not outcome.caller_bye
    assert not outcome.ok  # the spec expected the caller to hang up
    assert uas_rc == 0
    assert decode_keys(received.packets) == "12"


async def test_concurrent_calls_keep_their_own_keys(tmp_path: Path) -> None:
    """Calls run side by side get distinct ports and each delivers its own keys."""
    key_sets = ["1234", "5678", "0000", "*#*#"]
    results = await asyncio.gather(
        *[
            _call_against_uas(
                tmp_path / f"c{i}",
                CallSpec(
                    did="0664806430",
                    caller_from=f"03000000{i:02d}",
                    schedule=keys_at(0.2, k),
                    timeout_s=15,
                ),
                bye_after_ms=2000,
            )
            for i, k in enumerate(key_sets)
        ]
    )
    for keys, (outcome, received, uas_rc) in zip(key_sets, results, strict=True):
        assert outcome.ok, outcome.describe()
        assert uas_rc == 0
        _assert_stream(received, keys)


async def test_unanswered_call_fails_within_its_timeout(tmp_path: Path) -> None:
    """Nothing answers: SIPp's own -timeout ends the call as a failure."""
    (free,) = reserve_ports(1)
    release_ports([free])
    spec = CallSpec(did="0664806430", caller_from="0311112222", timeout_s=2)
    outcome = await run_call(spec, LOCAL_IP, free, tmp_path)
    assert not outcome.ok and outcome.exit_code not in (0, None), outcome.describe()
    assert not outcome.service_bye and not outcome.killed
    assert outcome.elapsed_s < 2 + sipp.KILL_GRACE_S


async def test_hung_sipp_is_killed_by_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard timeout kills SIPp itself and hands its ports back."""
    monkeypatch.setattr(sipp, "KILL_GRACE_S", -4.0)  # wait 1 s where SIPp would wait 5
    (free,) = reserve_ports(1)
    release_ports([free])
    spec = CallSpec(did="0664806430", caller_from="0311112222", timeout_s=5)
    outcome = await run_call(spec, LOCAL_IP, free, tmp_path)
    assert outcome.killed and outcome.exit_code is None and not outcome.ok
    assert outcome.elapsed_s < 3
    assert not ports._reserved
