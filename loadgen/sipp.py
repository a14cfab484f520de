"""One SIPp UAC call per ``run_call``: a generated scenario, keys from a generated pcap.

Why a scenario per call: caller, P-Asserted-Identity and key schedule differ per call,
and concurrent calls must not share files or ports. SIPp runs in the foreground
(``-bg`` returns 99 at once and loses the result) with ``-m 1``; its exit code is 0
when the call went through the whole scenario.

The scenario waits for the service's BYE right after the keys start playing, with no
``<pause>`` in between (a pause makes SIPp abort on a BYE that arrives during it). A
caller hang-up is the ``ontimeout`` branch of that same ``recv``, so a service BYE that
comes first is still answered and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from loadgen import sipmsg
from loadgen.inband import CODECS, write_inband_pcap
from loadgen.ports import LOCAL_IP, release_ports, reserve_ports
from loadgen.rtp_pcap import KeyPress, write_keys_pcap

SIPP_BIN = os.environ.get("SIPP_BIN") or shutil.which("sipp") or "/usr/bin/sipp"
#: Extra seconds the Python side waits beyond SIPp's own ``-timeout`` before killing it.
KILL_GRACE_S = 5.0
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


@dataclass(frozen=True)
class CallOutcome:
    """What SIPp reported for one call."""

    spec: CallSpec
    exit_code: int | None  # None: killed after the hard timeout
    service_bye: bool
    caller_bye: bool
    elapsed_s: float
    command: list[str]
    stderr: str = ""
    errors: str = ""
    messages: str = ""
    killed: bool = False
    workdir: Path = field(default_factory=Path)

    @property
    def ok(self) -> bool:
        """SIPp completed the scenario and the call ended by the expected side."""
        return (
            self.exit_code == 0
            and not self.killed
            and self.service_bye == self.spec.expect_service_bye
        )

    def describe(self) -> str:
        """A short text for assertion messages."""
        return (
            f"exit={self.exit_code} killed={self.killed} service_bye={self.service_bye} "
            f"caller_bye={self.caller_bye} elapsed={self.elapsed_s:.2f}s\n"
            f"cmd: {' '.join(self.command)}\nstderr: {self.stderr[-1500:]}\n"
            f"errors: {self.errors[-3000:]}\nmessages(tail): {self.messages[-3000:]}"
        )


# --- scenario --------------------------------------------------------------------------

#: SIP INFO content types by ``keys_as``, and the body for one key.
INFO_TYPES = {
    "info-dtmf-relay": ("application/dtmf-relay", "Signal={key}\nDuration=160\n"),
    "info-dtmf": ("application/dtmf", "{key}"),
}
KEYS_AS = {"rfc4733", "inband", *INFO_TYPES}


def _info_steps(spec: CallSpec) -> str:
    """Pauses and INFO requests (CSeq 2, 3, ...) that send the schedule's keys in dialog."""
    ctype, body = INFO_TYPES[spec.keys_as]
    steps, at = [], 0.0
    for n, press in enumerate(sorted(spec.schedule, key=lambda p: p.at_s), start=2):
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
    return "\n  ".join(steps)


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
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{escape(did)} keys">
  <send retrans="500">{sipmsg.cdata(invite)}</send>
  <recv response="100" optional="true"/>
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
  <label id="done"/>
</scenario>
"""


def _refusal_scenario(spec: CallSpec, invite: str, answer_ms: int) -> str:
    """Never answered: 183 with the refusal as early media, then the final status, then the
    ACK of a non-2xx response (the INVITE's branch: four messages back)."""
    ack = sipmsg.refusal_ack(spec.did, 4)
    final_ms = int(spec.timeout_s * 1000)
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{escape(spec.did)} refused">
  <send retrans="500">{sipmsg.cdata(invite)}</send>
  <recv response="100" optional="true"/>
  <recv response="183" timeout="{answer_ms}"/>
  <recv response="{spec.refused_with}" timeout="{final_ms}"/>
  <send>{sipmsg.cdata(ack)}</send>
</scenario>
"""


def sipp_command(
    scenario: Path,
    sip_host: str,
    sip_port: int,
    *,
    local_port: int,
    media_port: int,
    timeout_s: float,
    workdir: Path,
    control_port: int | None = None,
    calls: int = 1,
    extra: Sequence[tuple[str, object]] = (),
    extra_flags: Sequence[str] = (),
    trace_messages: bool = True,
) -> list[str]:
    """The one SIPp command line (no stdin, answers unexpected requests, errors and actions
    logged in ``workdir``): one call by default; a load run adds its rate, callers and stats
    in ``extra`` and leaves the per-message trace off (it would be gigabytes)."""
    options: list[tuple[str, object]] = [
        ("-sf", scenario),
        ("-m", calls),
        ("-l", calls),
        ("-i", LOCAL_IP),
        ("-p", local_port),
        ("-mi", LOCAL_IP),
        ("-mp", media_port),
        *((("-ci", LOCAL_IP), ("-cp", control_port)) if control_port is not None else ()),
        ("-timeout", f"{max(1, round(timeout_s))}s"),
        ("-error_file", workdir / "errors.log"),
        ("-log_file", workdir / "actions.log"),
        *((("-message_file", workdir / "messages.log"),) if trace_messages else ()),
        *extra,
    ]
    flags = ["-nostdin", "-aa", "-timeout_error", "-trace_err", "-trace_logs"]
    return [
        SIPP_BIN,
        f"{sip_host}:{sip_port}",
        *(str(x) for pair in options for x in pair),
        *flags,
        *(["-trace_msg"] if trace_messages else []),
        *extra_flags,
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


_CALL_SEQ = 0
_CALL_SEQ_LOCK = threading.Lock()


def _next_call_dir(workdir: Path) -> Path:
    global _CALL_SEQ
    with _CALL_SEQ_LOCK:
        _CALL_SEQ += 1
        n = _CALL_SEQ
    d = workdir / f"call-{os.getpid()}-{n:05d}"
    d.mkdir(parents=True, exist_ok=False)
    return d


async def run_call(
    spec: CallSpec, sip_host: str, sip_port: int, workdir: str | Path
) -> CallOutcome:
    """Place one call with SIPp and report how it ended.

    Safe to run many at once (``asyncio.gather``): each call gets its own directory,
    SIP port, media port block and control port. SIPp is killed by its pid if it
    outlives ``spec.timeout_s`` plus a grace period.
    """
    call_dir = _next_call_dir(Path(workdir))
    pcap = call_dir / "keys.pcap"
    if spec.keys_as == "inband":
        write_inband_pcap(pcap, spec.schedule, tone_ms=spec.tone_ms, codec=spec.codec)
    else:  # INFO calls still send RTP: the lead-in silence, as a phone would
        events = spec.schedule if spec.keys_as == "rfc4733" else ()
        write_keys_pcap(pcap, events, payload_type=spec.payload_type)
    scenario = call_dir / "uac.xml"
    scenario.write_text(uac_scenario(spec, sip_host, sip_port, pcap))

    ports = reserve_ports(1) + reserve_ports(4, even=True) + reserve_ports(1)
    local_port, media_port, control_port = ports[0], ports[1], ports[5]
    cmd = sipp_command(
        scenario,
        sip_host,
        sip_port,
        local_port=local_port,
        media_port=media_port,
        control_port=control_port,
        timeout_s=spec.timeout_s,
        workdir=call_dir,
    )
    started = time.monotonic()
    killed = False
    stderr = b""
    proc: asyncio.subprocess.Process | None = None
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=call_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), spec.timeout_s + KILL_GRACE_S)
        except TimeoutError:
            killed = True
    finally:
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, 9)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
        release_ports(ports)
    elapsed = time.monotonic() - started
    actions = _read(call_dir / "actions.log")
    messages = _read(call_dir / "messages.log")
    return CallOutcome(
        spec=spec,
        exit_code=None if killed else (proc.returncode if proc else None),
        service_bye=_SERVICE_BYE_MARK in actions or _received_bye(messages),
        caller_bye=_CALLER_BYE_MARK in actions,
        elapsed_s=elapsed,
        command=cmd,
        stderr=stderr.decode(errors="replace") if stderr else "",
        errors=_read(call_dir / "errors.log"),
        messages=messages,
        killed=killed,
        workdir=call_dir,
    )


_RECEIVED_BYE = re.compile(r"message received \[\d+\] bytes :\s*\n\s*BYE ", re.IGNORECASE)


def _received_bye(messages: str) -> bool:
    """A BYE request in SIPp's message trace (also when the scenario aborted on it)."""
    return bool(_RECEIVED_BYE.search(messages))
