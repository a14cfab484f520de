"""The SIP edge's Asterisk settings: who is the trunk (IVR_SIP_TRUSTED) and, with
IVR_SIP_TLS_PORT, SIP over TLS with SRTP (SDES) for the carrier link of a single node.

Why SDES and not DTLS-SRTP: carriers' SBCs offer SDES keys inside TLS-protected SDP, and
Asterisk's `res_srtp` does it with one endpoint option. The certificate and its key are
copied 0600 into the rendered config directory (mounted inside Asterisk's root), so the
operator's files may live anywhere. With TLS on, the trunk takes SRTP only: a plain RTP
offer is refused (488).
"""

from __future__ import annotations

from ivr.config.secret_files import read_secret, write_private
from ivr.config.settings import Settings

CERT, KEY = "sip-tls.crt", "sip-tls.key"
INSIDE = "/ivr/asterisk/etc"  # the rendered config directory as Asterisk sees it


def values(settings: Settings) -> dict[str, str]:
    """The pjsip.conf placeholders: the trunk's addresses, the TLS transport section and the
    trunk's encryption."""
    return {"trunk_match": ",".join(settings.sip_trusted), **_tls(settings)}


def _tls(settings: Settings) -> dict[str, str]:
    if not settings.sip_tls_port:
        return {"tls_transport": "; no TLS transport (IVR_SIP_TLS_PORT unset)",
                "media_encryption": "no", "rewrite_contact": "no"}  # fmt: skip
    section = [
        "[transport-tls]",
        "type = transport",
        "protocol = tls",
        f"bind = {settings.sip_host}:{settings.sip_tls_port}",
        f"cert_file = {INSIDE}/{CERT}",
        f"priv_key_file = {INSIDE}/{KEY}",
        "method = tlsv1_2",
    ]
    # rewrite_contact: the service's BYE goes back over the caller's own TLS connection
    return {"tls_transport": "\n".join(section), "media_encryption": "sdes",
            "rewrite_contact": "yes"}  # fmt: skip


def install(settings: Settings, etc_dir) -> None:  # type: ignore[no-untyped-def]
    """Copy the certificate and key (the key refused unless 0600) next to pjsip.conf."""
    if not settings.sip_tls_port:
        return
    if settings.sip_tls_cert_file is None or settings.sip_tls_key_file is None:
        raise ValueError("IVR_SIP_TLS_PORT needs IVR_SIP_TLS_CERT_FILE and IVR_SIP_TLS_KEY_FILE")
    write_private(etc_dir / CERT, settings.sip_tls_cert_file.read_text())
    write_private(etc_dir / KEY, read_secret(settings.sip_tls_key_file) + "\n")
