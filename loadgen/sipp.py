"""One SIPp UAC call per ``run_call``: its scenario (loadgen.uac), keys from a generated pcap.

Concurrent calls must not share files or ports: each call gets a directory and ports of its
own. SIPp runs in the foreground (``-bg`` returns 99 at once and loses the result) with
``-m 1``; its exit code is 0 when the call went through the whole scenario.
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

from loadgen.inband import write_inband_pcap
from loadgen.ports import LOCAL_IP, release_ports, reserve_ports
from loadgen.rtp_pcap import write_keys_pcap
from loadgen.uac import _CALLER_BYE_MARK, _SERVICE_BYE_MARK, CallSpec, uac_scenario

SIPP_BIN = os.environ.get("SIPP_BIN") or shutil.which("sipp") or "/usr/bin/sipp"
#: Extra seconds the Python side waits beyond SIPp's own ``-timeout`` before killing it.
KILL_GRACE_S = 5.0


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
    spec: CallSpec,
    sip_host: str,
    sip_port: int,
    workdir: str | Path,
    *,
    prefix: Sequence[str] = (),
) -> CallOutcome:
    """Place one call with SIPp and report how it ended (prefix: what SIPp runs under, e.g.
    `ivrctl cluster exec --` to call from a netns cluster's edge; it must exec SIPp).

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
    cmd = [
        *prefix,
        *sipp_command(
            scenario,
            sip_host,
            sip_port,
            local_port=local_port,
            media_port=media_port,
            control_port=control_port,
            timeout_s=spec.timeout_s,
            workdir=call_dir,
        ),
    ]
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
