"""The generated in-band tones and INFO scenarios, checked without Asterisk.

Why: a tone detector only hears what the capture holds, so the G.711 coding, the two
frequencies of each key, the send levels and the silence between keys must be right in
the file; and an INFO scenario must carry each key in its own request, in order.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from loadgen.inband import (
    DECODERS,
    ENCODERS,
    FREQUENCIES,
    ZERO_DBM0_PEAK,
    build_inband_stream,
    goertzel_power,
    tone,
    write_inband_pcap,
)
from loadgen.rtp_pcap import keys_at
from loadgen.uac import CallSpec, uac_scenario


@pytest.mark.parametrize(
    ("codec", "known"),
    [
        ("PCMU", {0: 0xFF, -1: 0x7E, 32767: 0x80, -32768: 0x00, 1000: 0xCE}),
        ("PCMA", {0: 0xD5, -1: 0x55, 32767: 0xAA, -32768: 0x2A, 1000: 0xFA}),
    ],
)
def test_g711_reference_values_and_round_trip(codec, known):
    encode, decode = ENCODERS[codec], DECODERS[codec]
    assert {s: encode(s) for s in known} == known
    for sample in range(-32768, 32768, 97):
        back = decode(encode(sample))
        # G.711 keeps about 4 significant bits: the error stays within 1/16 of the value.
        assert abs(back - sample) <= max(abs(sample) / 16, 16), (sample, back)


def _strongest_pair(samples: list[int]) -> list[int]:
    """The two DTMF frequencies with the most power, as a detector would pick them."""
    powers = {f: goertzel_power(samples, f) for f in (697, 770, 852, 941, 1209, 1336, 1477)}
    return sorted(sorted(powers, key=powers.__getitem__, reverse=True)[:2])


def _level_dbm0(samples: list[int]) -> float:
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return 20 * math.log10(rms / (ZERO_DBM0_PEAK / math.sqrt(2)))


@pytest.mark.parametrize("key", sorted(FREQUENCIES))
def test_each_key_is_its_row_and_column_at_send_level(key):
    samples = tone(key, 70)
    assert len(samples) == 560
    assert _strongest_pair(samples) == sorted(FREQUENCIES[key])
    assert -5.5 < _level_dbm0(samples) < -3.5  # -8 and -6 dBm0 together: about -3.9 dBm0
    assert max(map(abs, samples)) < 32768


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_stream_is_continuous_audio_with_tones_where_scheduled(codec, tmp_path: Path):
    schedule = keys_at(0.5, "1#1", 0.08)
    packets = build_inband_stream(schedule, tone_ms=40, codec=codec, trail_s=0.5)
    pt = {"PCMU": 0, "PCMA": 8}[codec]
    assert {p.payload_type for p in packets} == {pt}
    assert [p.offset_s for p in packets] == [round(i * 0.02, 6) for i in range(len(packets))]
    assert all((b.seq - a.seq) % 65536 == 1 for a, b in zip(packets, packets[1:], strict=False))
    assert all(b.timestamp - a.timestamp == 160 for a, b in zip(packets, packets[1:], strict=False))
    samples = [DECODERS[codec](b) for p in packets for b in p.payload]
    assert len(samples) / 8000 == pytest.approx(0.5 + 0.08 * 2 + 0.04 + 0.5, abs=0.02)

    def energy(start_s: float, ms: int) -> float:
        a = round(start_s * 8000)
        return sum(s * s for s in samples[a : a + ms * 8])

    for at, key in [(0.5, "1"), (0.58, "#"), (0.66, "1")]:
        chunk = samples[round(at * 8000) : round(at * 8000) + 320]
        assert _strongest_pair(chunk) == sorted(FREQUENCIES[key])
        assert energy(at + 0.04, 40) < 1e-6 * energy(at, 40)  # the pause between keys
    write_inband_pcap(tmp_path / "t.pcap", schedule, tone_ms=40, codec=codec)
    assert struct.unpack("<I", (tmp_path / "t.pcap").read_bytes()[:4])[0] == 0xA1B2C3D4


def test_overlapping_tones_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        build_inband_stream(keys_at(1.0, "12", 0.05), tone_ms=70)


@pytest.mark.parametrize(
    ("keys_as", "ctype", "bodies"),
    [
        ("info-dtmf-relay", "application/dtmf-relay", ["Signal=1\nDuration=160", "Signal=#"]),
        ("info-dtmf", "application/dtmf", ["\n1\n]]>", "\n1\n]]>", "\n#\n]]>"]),
    ],
)
def test_info_scenario_sends_each_key_in_its_own_request(keys_as, ctype, bodies, tmp_path):
    spec = CallSpec(
        did="0664806430", caller_from="0510000001", schedule=keys_at(1.0, "11#"), keys_as=keys_as
    )
    xml = uac_scenario(spec, "127.0.0.1", 5060, tmp_path / "x.pcap")
    assert [f"CSeq: {n} INFO" in xml for n in (2, 3, 4)] == [True] * 3
    assert xml.count(f"Content-Type: {ctype}") == 3
    assert "CSeq: 5 BYE" in xml
    assert "telephone-event" not in xml
    assert xml.index('<pause milliseconds="1000"/>') < xml.index("CSeq: 2 INFO")
    assert xml.count('<pause milliseconds="250"/>') == 2
    for body in bodies:
        assert body in xml


def test_bad_transport_or_codec_is_refused():
    with pytest.raises(ValueError, match="keys_as"):
        CallSpec(did="1", caller_from="2", keys_as="smoke-signals")
    with pytest.raises(ValueError, match="codec"):
        CallSpec(did="1", caller_from="2", codec="PCMA")  # RFC 4733 calls here use PCMU
