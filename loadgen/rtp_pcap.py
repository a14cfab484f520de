"""RFC 4733 key presses as a libpcap capture that SIPp's ``play_pcap_audio`` replays.

Why not SIPp's shipped ``dtmf_2833_*.pcap``: each has one fixed RTP timestamp and
sequence number, so Asterisk takes a repeated key as a retransmission and drops it, and
captures played one after another restart the stream and lose keys. Here one capture
holds one continuous RTP stream for the whole call: every key press has its own
timestamp, sequence numbers rise across the file, and the record times carry the
schedule (SIPp sends each packet at its recorded offset from the first one).

The first record is a PCMU silence packet at t=0 (SIPp sends the first packet at once),
followed by a few more at 20 ms: they make "t=0" the moment the play starts, and let
Asterisk's strict-RTP probation (4 sequential packets) accept the source before the
first key arrives.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

EVENT_CODES: dict[str, int] = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
KEY_FOR_EVENT: dict[int, str] = {code: key for key, code in EVENT_CODES.items()}

SAMPLE_RATE = 8000
PACKET_MS = 20
SAMPLES_PER_PACKET = SAMPLE_RATE * PACKET_MS // 1000  # 160
END_RETRANSMISSIONS = 3  # total packets carrying the end bit (RFC 4733 2.5.1.4)
DEFAULT_VOLUME = 10
PCMU_PT = 0
PCMU_SILENCE = b"\xff" * SAMPLES_PER_PACKET
#: Record time of the first packet (the call's t=0); any fixed epoch works.
BASE_EPOCH_S = 1_700_000_000

_SRC_MAC = bytes.fromhex("020000000001")
_DST_MAC = bytes.fromhex("020000000002")
_LOOPBACK = bytes([127, 0, 0, 1])
#: UDP ports in the frames; SIPp rewrites them to its media port and the far end's.
SRC_PORT = 6000
DST_PORT = 6000


@dataclass(frozen=True, slots=True)
class KeyPress:
    """One key press starting ``at_s`` seconds after the play starts."""

    at_s: float
    key: str
    duration_ms: int = 120

    def __post_init__(self) -> None:
        if self.key not in EVENT_CODES:
            raise ValueError(f"not a telephone key: {self.key!r}")
        if self.duration_ms < PACKET_MS or self.duration_ms % PACKET_MS:
            raise ValueError(f"duration_ms must be a positive multiple of {PACKET_MS}")
        if self.at_s < 0:
            raise ValueError("at_s must not be negative")

    @property
    def busy_until_s(self) -> float:
        """When its last end-bit retransmission leaves."""
        return self.at_s + (self.duration_ms + (END_RETRANSMISSIONS - 1) * PACKET_MS) / 1000


def keys_at(
    start_s: float, keys: str, gap_s: float = 0.25, *, duration_ms: int = 120
) -> list[KeyPress]:
    """Key presses of ``keys`` starting at ``start_s``, one every ``gap_s`` seconds."""
    return [
        KeyPress(at_s=round(start_s + i * gap_s, 6), key=k, duration_ms=duration_ms)
        for i, k in enumerate(keys)
    ]


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One packet of the stream, with its offset from the capture's first record."""

    offset_s: float
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes

    def to_bytes(self) -> bytes:
        """RTP header (version 2, no padding/extension/CSRC) plus payload."""
        b0 = 0x80
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = struct.pack(
            "!BBHII", b0, b1, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF
        )
        return header + self.payload


def event_payload(event: int, *, end: bool, volume: int, duration: int) -> bytes:
    """RFC 4733 payload: event, E|R|volume, duration (timestamp units)."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)


def build_stream(
    schedule: Sequence[KeyPress],
    *,
    payload_type: int = 101,
    ssrc: int | None = None,
    first_seq: int | None = None,
    first_timestamp: int | None = None,
    lead_in_packets: int = 5,
    volume: int = DEFAULT_VOLUME,
) -> list[RtpPacket]:
    """The RTP packets of one call: PCMU lead-in at t=0, then each key's events."""
    if lead_in_packets < 1:
        raise ValueError("at least one lead-in packet marks t=0")
    rng = random.Random()
    ssrc = rng.getrandbits(32) if ssrc is None else ssrc
    seq = rng.getrandbits(15) if first_seq is None else first_seq
    ts0 = rng.getrandbits(31) if first_timestamp is None else first_timestamp

    presses = sorted(schedule, key=lambda p: p.at_s)
    lead_in_end_s = lead_in_packets * PACKET_MS / 1000
    busy_until = lead_in_end_s
    for press in presses:
        if press.at_s + 1e-9 < busy_until:
            raise ValueError(
                f"key {press.key!r} at {press.at_s}s overlaps the previous packets "
                f"(busy until {busy_until:.3f}s)"
            )
        busy_until = press.busy_until_s

    packets: list[RtpPacket] = []

    def add(offset_s: float, pt: int, marker: bool, ts: int, payload: bytes) -> None:
        nonlocal seq
        packets.append(
            RtpPacket(round(offset_s, 6), pt, marker, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, payload)
        )
        seq += 1

    for i in range(lead_in_packets):
        add(i * PACKET_MS / 1000, PCMU_PT, i == 0, ts0 + i * SAMPLES_PER_PACKET, PCMU_SILENCE)

    for press in presses:
        event = EVENT_CODES[press.key]
        ts = ts0 + round(press.at_s * SAMPLE_RATE)  # unique per press: presses never overlap
        steps = press.duration_ms // PACKET_MS
        for i in range(steps):
            last = i == steps - 1
            duration = (i + 1) * SAMPLES_PER_PACKET
            payload = event_payload(event, end=last, volume=volume, duration=duration)
            add(press.at_s + i * PACKET_MS / 1000, payload_type, i == 0, ts, payload)
        final = event_payload(event, end=True, volume=volume, duration=steps * SAMPLES_PER_PACKET)
        for r in range(1, END_RETRANSMISSIONS):
            add(press.at_s + (steps - 1 + r) * PACKET_MS / 1000, payload_type, False, ts, final)
    return packets


def ipv4_checksum(header: bytes) -> int:
    """Ones' complement sum of 16-bit words (RFC 791/1071)."""
    if len(header) % 2:
        header += b"\x00"
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(
    payload: bytes, *, ip_id: int, src_port: int = SRC_PORT, dst_port: int = DST_PORT
) -> bytes:
    """Ethernet II + IPv4 + UDP around ``payload``, 127.0.0.1 to 127.0.0.1."""
    udp_len = 8 + len(payload)
    pseudo = _LOOPBACK + _LOOPBACK + struct.pack("!BBH", 0, 17, udp_len)
    udp_sum = (
        ipv4_checksum(pseudo + struct.pack("!HHHH", src_port, dst_port, udp_len, 0) + payload)
        or 0xFFFF
    )
    udp = struct.pack("!HHHH", src_port, dst_port, udp_len, udp_sum) + payload
    ip_wo_sum = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + udp_len,
        ip_id & 0xFFFF,
        0x4000,
        64,
        17,
        0,
        _LOOPBACK,
        _LOOPBACK,
    )
    ip = ip_wo_sum[:10] + struct.pack("!H", ipv4_checksum(ip_wo_sum)) + ip_wo_sum[12:]
    return _DST_MAC + _SRC_MAC + b"\x08\x00" + ip + udp


def pcap_bytes(packets: Iterable[RtpPacket], *, base_epoch_s: int = BASE_EPOCH_S) -> bytes:
    """Classic little-endian libpcap file (microseconds, Ethernet link type)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, pkt in enumerate(packets):
        frame = udp_frame(pkt.to_bytes(), ip_id=n + 1)
        usec_total = round(pkt.offset_s * 1_000_000)
        sec, usec = divmod(usec_total, 1_000_000)
        out.append(struct.pack("<IIII", base_epoch_s + sec, usec, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_keys_pcap(
    path: str | Path,
    schedule: Sequence[KeyPress],
    *,
    payload_type: int = 101,
    ssrc: int | None = None,
    first_seq: int | None = None,
    first_timestamp: int | None = None,
    lead_in_packets: int = 5,
) -> list[RtpPacket]:
    """Write the capture for ``schedule`` to ``path``; returns the packets written."""
    packets = build_stream(
        schedule,
        payload_type=payload_type,
        ssrc=ssrc,
        first_seq=first_seq,
        first_timestamp=first_timestamp,
        lead_in_packets=lead_in_packets,
    )
    Path(path).write_bytes(pcap_bytes(packets))
    return packets


def decode_keys(rtp_payloads: Iterable[bytes], *, payload_type: int = 101) -> str:
    """Keys as a receiver like Asterisk sees them: one per event timestamp that ends.

    A repeated end packet with the timestamp already ended is a retransmission.
    """
    keys: list[str] = []
    ended: set[int] = set()
    for data in rtp_payloads:
        if len(data) < 16 or data[0] >> 6 != 2 or data[1] & 0x7F != payload_type:
            continue
        ts = struct.unpack("!I", data[4:8])[0]
        event, flags = data[12], data[13]
        if flags & 0x80 and ts not in ended:
            ended.add(ts)
            keys.append(KEY_FOR_EVENT.get(event, "?"))
    return "".join(keys)
