"""One SIPp scenario for many callers: the caller comes from a CSV (``-inf``), keys from a pcap.

Why one scenario for all calls: one SIPp process per call was fine for 20 calls and not for
300 (process start-up, ports, memory). SIPp loads a ``play_pcap_audio`` file once, so every
call keys the same schedule; each call still has its own caller (``[field0]``), hence its
own subscriber and its own target number.

Each call logs its milestones with SIPp's ``[clock_tick]`` (ms since SIPp started) to the
action log, one line each: ``START``, ``ANSWERED``, ``END`` (the service's BYE), ``REFUSED``
with the final status, so the runner can tell call lengths, refusals and concurrency.
A refusal before answer (183 early media, then 403/433/486/503) is a completed scenario.
Keys travel as RFC 4733 events by default; ``events=False`` offers no telephone-event (the
pcap then carries in-band tones) and ``info`` adds SIP INFO requests after the ACK
(loadgen.uac.info_steps), so one SIPp can load each way a phone sends keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from loadgen import sipmsg

REFUSAL_STATUSES = (403, 433, 486, 503)
# μ-law audio and RFC 4733 keys, as a fibre-phone adaptor offers them.
_MEDIA = """m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16"""
_AUDIO_ONLY = """m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000"""
MARK = "IVRLOAD"


def _log(what: str) -> str:
    return f'<log message="{MARK} {what} [call_number] [field0] [clock_tick]"/>'


def load_scenario(
    did: str,
    sip_host: str,
    sip_port: int,
    pcap: Path,
    *,
    answer_timeout_s: float = 30.0,
    call_timeout_s: float = 120.0,
    events: bool = True,
    info: Sequence[str] = (),
) -> str:
    """The UAC scenario: INVITE from ``[field0]``, keys after the ACK, wait for the BYE."""
    invite = sipmsg.invite(
        did, sip_host, sip_port,
        headers='From: "[field0]" <sip:[field0]@[local_ip]>;tag=[pid]SIPpTag00[call_number]',
        contact="[field0]", agent="ivrctl-load", media=_MEDIA if events else _AUDIO_ONLY,
    )  # fmt: skip
    ack = sipmsg.in_dialog("ACK", 1, "[field0]")
    ok_bye = sipmsg.ok_to_bye("[field0]")
    # Elements that are SIP messages, in order: [branch-N] counts back over these.
    elements: list[str] = [
        f"<nop><action>{_log('START')}</action></nop>",
        f'<send retrans="500">{sipmsg.cdata(invite)}</send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
    ]
    elements += [
        f'<recv response="{code}" optional="true" next="refused{code}"/>'
        for code in REFUSAL_STATUSES
    ]
    elements += [
        f'<recv response="200" rrs="true" timeout="{int(answer_timeout_s * 1000)}"/>',
        f"<send>{sipmsg.cdata(ack)}</send>",
        f"<nop><action>{_log('ANSWERED')}<exec play_pcap_audio={quoteattr(str(pcap))}/>"
        "</action></nop>",
        *info,
        f'<recv request="BYE" timeout="{int(call_timeout_s * 1000)}"/>',
        f"<send>{sipmsg.cdata(ok_bye)}</send>",
        f'<nop next="done"><action>{_log("END")}</action></nop>',
    ]
    invite_index = 1
    for code in REFUSAL_STATUSES:
        elements.append(f'<label id="refused{code}"/>')
        back = _message_count(elements) - invite_index
        elements.append(f"<send>{sipmsg.cdata(sipmsg.refusal_ack(did, back))}</send>")
        elements.append(f'<nop next="done"><action>{_log(f"REFUSED {code}")}</action></nop>')
    elements.append('<label id="done"/>')
    body = "\n  ".join(elements)
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="ivrctl load {escape(did)}">
  {body}
</scenario>
"""


def _message_count(elements: Sequence[str]) -> int:
    """How many scenario messages (every element but labels) precede the next one."""
    return sum(1 for e in elements if not e.startswith("<label"))


def callers_csv(callers: Sequence[str]) -> str:
    """SIPp's injection file: one caller per call, in order."""
    return "SEQUENTIAL\n" + "".join(f"{c};\n" for c in callers)
