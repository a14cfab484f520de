"""Readiness probes: is a TCP port accepting, does a SIP server answer OPTIONS, is /healthz 200."""

from __future__ import annotations

import secrets
import socket

from loadgen import sipmsg


def tcp_accepts(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_status(host: str, port: int, path: str, timeout_s: float = 2.0) -> int | None:
    """The status code of one HTTP GET, or None (the FastAGI server's /healthz: probing the
    AGI port itself would write a truncated-call line into the call log)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def sip_options(host: str, port: int, timeout_s: float = 1.0) -> str | None:
    """Send one SIP OPTIONS over UDP; the status line of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.bind(("127.0.0.1", 0))
        lport = sock.getsockname()[1]
        tag = secrets.token_hex(6)
        request = sipmsg.options(host, port, local_ip="127.0.0.1", local_port=lport, tag=tag)
        try:
            sock.sendto(request.encode(), (host, port))
            data, _ = sock.recvfrom(65535)
        except OSError:
            return None
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line if line.startswith("SIP/2.0 ") else None
