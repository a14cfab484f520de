"""One call's SIPp scenario, from the caller's side: what it offers, sends and expects.

Why a scenario per call: caller, P-Asserted-Identity and key schedule differ per call. The
scenario waits for the service's BYE right after the keys start playing, with no
``<pause>`` in between (a pause makes SIPp abort on a BYE that arrives during it). A
caller hang-up is the ``ontimeout`` branch of that same ``recv``, so a service BYE that
comes first is still answered and reported. `loadgen.sipp` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from loadgen import sipmsg
from loadgen.inband import CODECS
from loadgen.ports import LOCAL_IP
from loadgen.rtp_pcap import KeyPress

_SERVICE_BYE_MARK = "SERVICE_BYE_RECEIVED"
_CALLER_BYE_MARK = "CALLER_BYE_SENT"


@dataclass(frozen=True, kw_only=True)
class CallSpec:
    """One call from the caller's side.

    ``schedule`` times count from the moment SIPp starts playing the keys (right after
    its ACK of the 200). With ``hangup_after_s`` the caller sends BYE that long after the
    play starts unless the service hung up first; without it the call waits up to
    ``timeout_s`` for the service's BYE. ``expect_service_bye`` is what ``ok`` requires.

    ``keys_as`` is how the keys travel: ``rfc4733`` events (telephone-event offered, PCMU),
    ``inband`` tones of ``tone_ms`` in ``codec`` (no telephone-event offered), or SIP INFO
    with an ``info-dtmf-relay`` (``Signal=1``) or ``info-dtmf`` (``1``) body.
    ``offer_events`` offers telephone-event with other transports too (tones sent while
    RFC 4733 is negotiated).
    """

    did: str
    caller_from: str
    pai: str | None = None
    privacy: str | None = None
    from_host: str = LOCAL_IP
    schedule: Sequence[KeyPress] = ()
    hangup_after_s: float | None = None
    expect_service_bye: bool = True
    timeout_s: float = 30.0
    answer_timeout_s: float = 10.0
    payload_type: int = 101
    keys_as: str = "rfc4733"
    codec: str = "PCMU"
    tone_ms: int = 70
    offer_events: bool = False
    refused_with: int | None = None  # a refusal before answer: 183, then this final status

    def __post_init__(self) -> None:
        if self.keys_as not in KEYS_AS:
            raise ValueError(f"keys_as must be one of {sorted(KEYS_AS)}")
        if self.codec not in CODECS or (self.keys_as == "rfc4733" and self.codec != "PCMU"):
            raise ValueError("codec: PCMU or PCMA (RFC 4733 calls here use PCMU)")
        ends = self.hangup_after_s is not None or self.refused_with is not None
        if not ends and not self.expect_service_bye:
            raise ValueError("nothing would end the call: set hangup_after_s")
        if self.hangup_after_s is not None and self.hangup_after_s >= self.timeout_s:
            raise ValueError("hangup_after_s must be below timeout_s")


#: SIP INFO content types by ``keys_as``, and the body for one key.
INFO_TYPES = {
    "info-dtmf-relay": ("application/dtmf-relay", "Signal={key}\nDuration=160\n"),
    "info-dtmf": ("application/dtmf", "{key}"),
}
KEYS_AS = {"rfc4733", "inband", *INFO_TYPES}


def info_steps(keys_as: str, schedule: Sequence[KeyPress]) -> list[str]:
    """Pauses and INFO requests (CSeq 2, 3, ...) that send the schedule's keys in dialog,
    one scenario element each (a load scenario counts its messages for ``[branch-N]``)."""
    ctype, body = INFO_TYPES[keys_as]
    steps, at = [], 0.0
    for n, press in enumerate(sorted(schedule, key=lambda p: p.at_s), start=2):
        if (pause := round((press.at_s - at) * 1000)) > 0:
            steps.append(f'<pause milliseconds="{pause}"/>')
        at = press.at_s
        info = f"""INFO [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {n} INFO
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: {ctype}
Content-Length: [len]

{body.format(key=press.key)}"""
        steps.append(f'<send retrans="500">{sipmsg.cdata(info)}</send>')
        steps.append('<recv response="200" timeout="5000"/>')
    return steps


def _info_steps(spec: CallSpec) -> str:
    return "\n  ".join(info_steps(spec.keys_as, spec.schedule))


def _sdp_media(spec: CallSpec) -> str:
    """The offer's audio lines: telephone-event only for RFC 4733 keys."""
    codec_pt = CODECS[spec.codec]
    lines = [f"a=rtpmap:{codec_pt} {spec.codec}/8000"]
    if spec.keys_as != "rfc4733" and not spec.offer_events:
        return f"m=audio [media_port] RTP/AVP {codec_pt}\n" + "\n".join(lines)
    pt = spec.payload_type
    lines += [f"a=rtpmap:{pt} telephone-event/8000", f"a=fmtp:{pt} 0-16"]
    return f"m=audio [media_port] RTP/AVP {codec_pt} {pt}\n" + "\n".join(lines)


def uac_scenario(spec: CallSpec, sip_host: str, sip_port: int, pcap_path: Path) -> str:
    """The SIPp XML for ``spec``."""
    did = spec.did
    headers = [
        f'From: "{spec.caller_from}" <sip:{spec.caller_from}@{spec.from_host}>'
        ";tag=[pid]SIPpTag00[call_number]"
    ]
    if spec.pai:
        headers.append(f"P-Asserted-Identity: <sip:{spec.pai}@{LOCAL_IP}>")
    if spec.privacy:
        headers.append(f"Privacy: {spec.privacy}")
    invite = sipmsg.invite(
        did, sip_host, sip_port, headers="\n".join(headers), contact=spec.caller_from,
        agent="ivr-e2e-sipp", media=_sdp_media(spec),
    )  # fmt: skip
    ack = sipmsg.in_dialog("ACK", 1, "caller")
    ok_bye = sipmsg.ok_to_bye("caller")
    bye = sipmsg.in_dialog(
        "BYE", len(spec.schedule) + 2 if spec.keys_as in INFO_TYPES else 2, "caller"
    )
    answer_ms = int(spec.answer_timeout_s * 1000)
    if spec.hangup_after_s is not None:
        wait = (
            f'<recv request="BYE" timeout="{int(spec.hangup_after_s * 1000)}" '
            'ontimeout="caller_hangup"/>'
        )
    else:
        wait = f'<recv request="BYE" timeout="{int(spec.timeout_s * 1000)}"/>'
    play = quoteattr(str(pcap_path))
    info = _info_steps(spec) if spec.keys_as in INFO_TYPES else ""
    if spec.refused_with is not None:
        return _refusal_scenario(spec, invite, answer_ms)
    return _scenario(
        f"{did} keys",
        invite,
        f"""
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" timeout="{answer_ms}"/>
  <send>{sipmsg.cdata(ack)}</send>
  <nop><action><exec play_pcap_audio={play}/></action></nop>
  {info}
  {wait}
  <send>{sipmsg.cdata(ok_bye)}</send>
  <nop next="done"><action><log message="{_SERVICE_BYE_MARK}"/></action></nop>
  <label id="caller_hangup"/>
  <send retrans="500">{sipmsg.cdata(bye)}</send>
  <recv response="200" timeout="5000"/>
  <nop><action><log message="{_CALLER_BYE_MARK}"/></action></nop>
  <label id="done"/>""",
    )


def _refusal_scenario(spec: CallSpec, invite: str, answer_ms: int) -> str:
    """Never answered: 183 with the refusal as early media, then the final status, then the
    ACK of a non-2xx response (the INVITE's branch: four messages back)."""
    ack = sipmsg.refusal_ack(spec.did, 4)
    final_ms = int(spec.timeout_s * 1000)
    return _scenario(
        f"{spec.did} refused",
        invite,
        f"""
  <recv response="183" timeout="{answer_ms}"/>
  <recv response="{spec.refused_with}" timeout="{final_ms}"/>
  <send>{sipmsg.cdata(ack)}</send>""",
    )


def _scenario(name: str, invite: str, body: str) -> str:
    """A scenario that opens with the INVITE (retransmitted as UDP wants) and its 100."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name={quoteattr(name)}>
  <send retrans="500">{sipmsg.cdata(invite)}</send>
  <recv response="100" optional="true"/>{body}
</scenario>
"""
