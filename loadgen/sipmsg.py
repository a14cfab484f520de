"""The SIP messages of our SIPp scenarios, written once: an INVITE with its SDP offer, the ACKs,
the 200 to the service's BYE and our own BYE, as SIPp templates ([local_ip], [branch], ...).

Both the one-call scenarios (loadgen.sipp) and the load scenario (loadgen.scenario) send
these; only the headers that differ (From, identity headers, User-Agent) and the offer's
media lines are theirs.
"""

from __future__ import annotations


def cdata(text: str) -> str:
    """A message as the body of a scenario element."""
    return "<![CDATA[\n" + text.replace("]]>", "]]]]><![CDATA[>") + "\n]]>"


def invite(
    did: str, host: str, port: int, *, headers: str, contact: str, agent: str, media: str
) -> str:
    """INVITE for ``did`` with an audio offer; ``headers`` holds From (and any identity)."""
    return f"""INVITE sip:{did}@{host}:{port} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{headers}
To: <sip:{did}@{host}:{port}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{contact}@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: {agent}
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
{media}
a=ptime:20
a=sendrecv
"""


def in_dialog(method: str, cseq: int, contact: str) -> str:
    """ACK of the 200 (CSeq 1), or our BYE: a request inside the dialog."""
    return f"""{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:{contact}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
"""


def ok_to_bye(contact: str) -> str:
    """Our 200 to the service's BYE."""
    return f"""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{contact}@[local_ip]:[local_port]>
Content-Length: 0
"""


def refusal_ack(did: str, back: int) -> str:
    """The ACK of a non-2xx final response: the INVITE's branch, ``back`` messages earlier
    (RFC 3261 17.1.1.3)."""
    return f"""ACK sip:{did}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-{back}]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
"""


def options(host: str, port: int, *, local_ip: str, local_port: int, tag: str) -> str:
    """A raw OPTIONS (no SIPp placeholders): the readiness probe of a SIP server."""
    return (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {local_ip}:{local_port};branch=z9hG4bK{tag};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{local_ip}>;tag={tag}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: {tag}@{local_ip}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:probe@{local_ip}:{local_port}>\r\n"
        "Accept: application/sdp\r\n"
        "Content-Length: 0\r\n\r\n"
    )
