"""In-band DTMF: dual-tone key presses as G.711 (μ-law or A-law) RTP, as a pcap for SIPp.

Why: a caller whose equipment offers no telephone-event sends its keys as sound, and only
Asterisk's tone detector turns them into keys. This writes what such a phone sends: one
continuous 20 ms audio stream from t=0 (silence between keys, so the detector sees each
tone end), each key the sum of its row and column sines at telephone send levels, encoded
sample by sample with the G.711 reference algorithm (no ``audioop``: it leaves Python in 3.13).
The stream reuses rtp_pcap's RTP and pcap writers, so SIPp replays it like the key captures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

from loadgen.rtp_pcap import SAMPLES_PER_PACKET, KeyPress, RtpPacket, pcap_bytes

SAMPLE_RATE = 8000
ROWS = (697, 770, 852, 941)
COLUMNS = (1209, 1336, 1477)
LAYOUT = ("123", "456", "789", "*0#")
FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (ROWS[r], COLUMNS[c]) for r, row in enumerate(LAYOUT) for c, key in enumerate(row)
}
#: Peak amplitude (16-bit linear) of a 0 dBm0 sine: 3.14 dB below G.711's full scale.
ZERO_DBM0_PEAK = 32768 * 10 ** (-3.14 / 20)
#: Send levels of a telephone: low group -8 dBm0, high group -6 dBm0 (2 dB twist).
LOW_DBM0, HIGH_DBM0 = -8.0, -6.0
CODECS = {"PCMU": 0, "PCMA": 8}
TRAIL_S = 1.0  # silence after the last tone: the detector needs it to see the key end


def _segment(value: int, ends: tuple[int, ...]) -> int:
    return next((i for i, end in enumerate(ends) if value <= end), len(ends))


def lin2ulaw(sample: int) -> int:
    """16-bit linear to μ-law (ITU-T G.711, the Sun reference algorithm)."""
    value, mask = sample >> 2, 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    segment = _segment(value, (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF))
    if segment >= 8:
        return 0x7F ^ mask
    return (segment << 4 | (value >> (segment + 1)) & 0x0F) ^ mask


def lin2alaw(sample: int) -> int:
    """16-bit linear to A-law (ITU-T G.711, the Sun reference algorithm)."""
    value = sample >> 3
    mask = 0xD5
    if value < 0:
        mask, value = 0x55, -value - 1
    segment = _segment(value, (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF))
    if segment >= 8:
        return 0x7F ^ mask
    shift = 1 if segment < 2 else segment
    return (segment << 4 | (value >> shift) & 0x0F) ^ mask


def ulaw2lin(code: int) -> int:
    """μ-law to 16-bit linear (for the tests of the encoder)."""
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code >> 4) & 0x07)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


def alaw2lin(code: int) -> int:
    """A-law to 16-bit linear (for the tests of the encoder)."""
    code ^= 0x55
    segment = (code >> 4) & 0x07
    value = (code & 0x0F) << 4
    value = value + 8 if segment == 0 else (value + 0x108) << (segment - 1)
    return value if code & 0x80 else -value


ENCODERS = {"PCMU": lin2ulaw, "PCMA": lin2alaw}
DECODERS = {"PCMU": ulaw2lin, "PCMA": alaw2lin}


def tone(key: str, ms: int, *, low_dbm0: float = LOW_DBM0, high_dbm0: float = HIGH_DBM0):
    """The linear samples of ``key`` held for ``ms`` milliseconds."""
    if key not in FREQUENCIES:
        raise ValueError(f"not a telephone key: {key!r}")
    low, high = FREQUENCIES[key]
    a_low = ZERO_DBM0_PEAK * 10 ** (low_dbm0 / 20)
    a_high = ZERO_DBM0_PEAK * 10 ** (high_dbm0 / 20)
    step = 2 * math.pi / SAMPLE_RATE
    return [
        round(a_low * math.sin(step * low * n) + a_high * math.sin(step * high * n))
        for n in range(ms * SAMPLE_RATE // 1000)
    ]


def build_inband_stream(
    schedule: Sequence[KeyPress],
    *,
    tone_ms: int,
    codec: str = "PCMU",
    low_dbm0: float = LOW_DBM0,
    high_dbm0: float = HIGH_DBM0,
    trail_s: float = TRAIL_S,
) -> list[RtpPacket]:
    """One audio stream: each press a ``tone_ms`` tone at its ``at_s``, silence elsewhere."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}")
    presses = sorted(schedule, key=lambda p: p.at_s)
    for before, after in zip(presses, presses[1:], strict=False):
        if after.at_s < before.at_s + tone_ms / 1000:
            raise ValueError(f"key {after.key!r} at {after.at_s}s overlaps the previous tone")
    end_s = (presses[-1].at_s + tone_ms / 1000 if presses else 0.1) + trail_s
    samples = [0] * (math.ceil(end_s * SAMPLE_RATE / SAMPLES_PER_PACKET) * SAMPLES_PER_PACKET)
    for press in presses:
        start = round(press.at_s * SAMPLE_RATE)
        wave = tone(press.key, tone_ms, low_dbm0=low_dbm0, high_dbm0=high_dbm0)
        samples[start : start + len(wave)] = wave
    encode = ENCODERS[codec]
    rng = random.Random()
    ssrc, seq, ts0 = rng.getrandbits(32), rng.getrandbits(15), rng.getrandbits(31)
    packets = []
    for i in range(len(samples) // SAMPLES_PER_PACKET):
        chunk = samples[i * SAMPLES_PER_PACKET : (i + 1) * SAMPLES_PER_PACKET]
        packets.append(
            RtpPacket(
                offset_s=round(i * SAMPLES_PER_PACKET / SAMPLE_RATE, 6),
                payload_type=CODECS[codec],
                marker=i == 0,
                seq=(seq + i) & 0xFFFF,
                timestamp=(ts0 + i * SAMPLES_PER_PACKET) & 0xFFFFFFFF,
                ssrc=ssrc,
                payload=bytes(encode(s) for s in chunk),
            )
        )
    return packets


def write_inband_pcap(path: str | Path, schedule: Sequence[KeyPress], **options) -> list:
    """Write the in-band capture for ``schedule`` (see build_inband_stream)."""
    packets = build_inband_stream(schedule, **options)
    Path(path).write_bytes(pcap_bytes(packets))
    return packets


def goertzel_power(samples: Sequence[int], frequency: float) -> float:
    """Signal power at ``frequency`` (what a DTMF detector measures, for the tests)."""
    coeff = 2 * math.cos(2 * math.pi * frequency / SAMPLE_RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2
