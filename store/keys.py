"""Redis key schema: every key one script touches shares one hash tag, hence one slot.

The hash tag is the login (or caller, or contract) number in braces, so a Redis Cluster
puts a number's temporary password, its verifier and its audit stream in the same slot,
and one Lua script may touch them all.
"""

from __future__ import annotations

import re

PREFIX = "ivr"
_NUMBER = re.compile(r"\+?[0-9]{1,32}")


def checked(number: str) -> str:
    """A number as a key part: digits (a leading + allowed), so no brace breaks the hash tag."""
    if not isinstance(number, str) or not _NUMBER.fullmatch(number):
        raise ValueError("a number must be 1-32 ASCII digits (an optional leading +)")
    return number


def tpw(number: str) -> str:
    """The temporary-password record (hash, no secret in it)."""
    return f"{PREFIX}:tpw:{{{checked(number)}}}"


def tpw_verifier(number: str) -> str:
    """Salt and verifier of the temporary password (hash; gone at expiry/invalidation)."""
    return f"{PREFIX}:tpw:{{{checked(number)}}}:v"


def account(number: str) -> str:
    """The real password's record (hash, no secret in it; no expiry: the web site's login)."""
    return f"{PREFIX}:pw:{{{checked(number)}}}"


def account_verifier(number: str) -> str:
    """Salt and verifier of the real password (hash; deleted when it is locked or cleared)."""
    return f"{PREFIX}:pw:{{{checked(number)}}}:v"


def audit(number: str) -> str:
    """The login number's audit stream (temporary and, later, real password events)."""
    return f"{PREFIX}:auth:{{{checked(number)}}}:audit"


def contract(contract_number: str) -> str:
    """The contract's authentication unit (hash: unit, at, number, call_id)."""
    return f"{PREFIX}:contract:{{{checked(contract_number)}}}"


def limit_calls(caller: str) -> str:
    """Sorted set of the caller's recent calls (score = time in ms)."""
    return f"{PREFIX}:limit:{{{checked(caller)}}}:calls"


def limit_failures(caller: str) -> str:
    """Sorted set of the caller's recent calls that ended in failed_strikes."""
    return f"{PREFIX}:limit:{{{checked(caller)}}}:fails"


def of_number(number: str) -> tuple[str, ...]:
    """Every key the store keeps for a number (as login, caller and contract), one slot."""
    return (
        tpw(number),
        tpw_verifier(number),
        audit(number),
        contract(number),
        limit_calls(number),
        limit_failures(number),
    )
