"""Byte-level checks of the generated key captures.

Why: SIPp replays these frames without looking inside, and Asterisk drops keys it takes
for retransmissions, so every field that decides that must be right in the file itself.
The pcap is parsed here independently of the writer (struct offsets, not its helpers).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadgen.rtp_pcap import (
    BASE_EPOCH_S,
    EVENT_CODES,
    KeyPress,
    decode_keys,
    keys_at,
    write_keys_pcap,
)


@dataclass
class Rec:
    """One parsed record: time, frame and the RTP fields the tests look at."""

    t: float
    frame: bytes
    pt: int
    marker: bool
    seq: int
    ts: int
    ssrc: int
    payload: bytes


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def parse(path: Path) -> tuple[bytes, list[Rec]]:
    """Global header and records; asserts frame-level lengths and checksums."""
    data = path.read_bytes()
    header, off, recs = data[:24], 24, []
    while off < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off : off + 16])
        assert incl == orig, "truncated record"
        frame = data[off + 16 : off + 16 + incl]
        assert len(frame) == incl
        off += 16 + incl
        assert frame[12:14] == b"\x08\x00", "EtherType IPv4"
        ip = frame[14:34]
        assert ip[0] == 0x45 and ip[9] == 17
        assert struct.unpack("!H", ip[2:4])[0] == len(frame) - 14, "IPv4 total length"
        assert _checksum(ip) == 0xFFFF, "IPv4 header checksum"
        assert ip[12:16] == ip[16:20] == bytes([127, 0, 0, 1])
        udp = frame[34:]
        assert struct.unpack("!H", udp[4:6])[0] == len(udp), "UDP length"
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
        assert _checksum(pseudo + udp) == 0xFFFF, "UDP checksum"
        rtp = udp[8:]
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", rtp[:12])
        assert b0 == 0x80, "RTP v2, no padding/extension/CSRC"
        recs.append(
            Rec(sec + usec / 1e6, frame, b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, rtp[12:])
        )
    return header, recs


def _events(recs: list[Rec]) -> list[Rec]:
    return [r for r in recs if r.pt == 101]


def test_global_header(tmp_path: Path) -> None:
    p = tmp_path / "k.pcap"
    write_keys_pcap(p, keys_at(0.2, "1"))
    header, _ = parse(p)
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", header)
    assert (magic, major, minor, zone, sigfigs, linktype) == (0xA1B2C3D4, 2, 4, 0, 0, 1)
    assert snaplen >= 1500


def test_stream_continuity_and_unique_timestamps(tmp_path: Path) -> None:
    p = tmp_path / "k.pcap"
    keys = "11223344#"
    write_keys_pcap(
        p, keys_at(0.5, keys), ssrc=0x1234ABCD, first_seq=65530, first_timestamp=0xFFFFF000
    )
    _, recs = parse(p)
    # one stream: one SSRC, sequence numbers +1 per packet (wrapping), time order
    assert {r.ssrc for r in recs} == {0x1234ABCD}
    assert [r.seq for r in recs] == [(65530 + i) & 0xFFFF for i in range(len(recs))]
    assert [r.t for r in recs] == sorted(r.t for r in recs)
    # lead-in PCMU silence at t=0, marker on its first packet
    lead = [r for r in recs if r.pt == 0]
    assert recs[0].pt == 0 and recs[0].marker and recs[0].t == BASE_EPOCH_S
    assert all(r.payload == b"\xff" * 160 for r in lead)
    assert [r.ts for r in lead] == [(0xFFFFF000 + 160 * i) & 0xFFFFFFFF for i in range(len(lead))]
    ev = _events(recs)
    press_ts = sorted({r.ts for r in ev}, key=[r.ts for r in ev].index)
    assert len(press_ts) == len(keys), "each press its own timestamp, repeats included"
    assert decode_keys(r.frame[42:] for r in recs) == keys


@pytest.mark.parametrize("duration_ms", [100, 120, 160])
def test_each_press_shape(tmp_path: Path, duration_ms: int) -> None:
    p = tmp_path / "k.pcap"
    schedule = keys_at(1.0, "0123456789*#", gap_s=0.3, duration_ms=duration_ms)
    write_keys_pcap(p, schedule, first_timestamp=1000)
    _, recs = parse(p)
    ev = _events(recs)
    steps = duration_ms // 20
    per_press = steps + 2
    assert len(ev) == per_press * len(schedule)
    for i, press in enumerate(schedule):
        pkts = ev[i * per_press : (i + 1) * per_press]
        assert {r.ts for r in pkts} == {1000 + round(press.at_s * 8000)}
        assert [r.marker for r in pkts] == [True] + [False] * (per_press - 1)
        fields = [struct.unpack("!BBH", r.payload) for r in pkts]
        assert all(len(r.payload) == 4 for r in pkts)
        assert {f[0] for f in fields} == {EVENT_CODES[press.key]} == {i}
        assert {f[1] & 0x3F for f in fields} == {10}, "volume 10"
        assert all(not f[1] & 0x40 for f in fields), "reserved bit clear"
        ends = [bool(f[1] & 0x80) for f in fields]
        assert ends == [False] * (steps - 1) + [True] * 3, "end bit on 3 final packets"
        durations = [f[2] for f in fields]
        assert durations[:steps] == [160 * (k + 1) for k in range(steps)]
        assert durations[-3:] == [duration_ms * 8] * 3
        # record times carry the schedule: 20 ms apart from the press time
        for k, r in enumerate(pkts):
            assert r.t - BASE_EPOCH_S == pytest.approx(press.at_s + 0.02 * k, abs=1e-6)


def test_record_lengths(tmp_path: Path) -> None:
    p = tmp_path / "k.pcap"
    write_keys_pcap(p, [KeyPress(at_s=0.3, key="#")], lead_in_packets=1)
    _, recs = parse(p)
    assert [len(r.frame) for r in recs] == [14 + 20 + 8 + 12 + 160] + [14 + 20 + 8 + 12 + 4] * 8
    assert len(p.read_bytes()) == 24 + sum(16 + len(r.frame) for r in recs)


def test_unsorted_schedule_and_payload_type(tmp_path: Path) -> None:
    p = tmp_path / "k.pcap"
    write_keys_pcap(p, [KeyPress(1.0, "2"), KeyPress(0.5, "1")], payload_type=96)
    _, recs = parse(p)
    assert {r.pt for r in recs} == {0, 96}
    assert decode_keys((r.frame[42:] for r in recs), payload_type=96) == "12"


def test_decoder_drops_retransmitted_press() -> None:
    """What the shipped captures do wrong: a key again with the same timestamp is lost."""
    end = bytes([0x80, 101, 0, 1]) + struct.pack("!II", 4242, 7) + bytes([1, 0x8A, 3, 0xC0])
    again = end[:2] + b"\x00\x02" + end[4:]
    assert decode_keys([end, again]) == "1"


@pytest.mark.parametrize(
    "schedule",
    [
        [KeyPress(0.3, "1"), KeyPress(0.4, "2")],  # overlaps the first press
        [KeyPress(0.05, "1")],  # inside the lead-in
    ],
)
def test_rejects_overlapping_schedule(tmp_path: Path, schedule: list[KeyPress]) -> None:
    with pytest.raises(ValueError):
        write_keys_pcap(tmp_path / "k.pcap", schedule)


def test_rejects_bad_keys() -> None:
    with pytest.raises(ValueError):
        KeyPress(0.5, "A")
    with pytest.raises(ValueError):
        KeyPress(0.5, "1", duration_ms=90)
