"""One small error tree for FastAGI.

Callers handle one hang-up, not four: EOF, a reset connection, an unsolicited ``HANGUP``
line, a ``511`` reply and a result that means the channel is gone all raise HangupError.
"""

from __future__ import annotations


class AGIError(Exception):
    """Anything that went wrong talking FastAGI."""


class HangupError(AGIError):
    """The channel is gone; nothing more may be sent to it."""


class CommandError(AGIError):
    """Asterisk refused a command: 510 (unknown command) or 520 (usage)."""

    def __init__(self, code: int, usage: str) -> None:
        super().__init__(f"AGI command refused with {code}")
        self.code = code
        self.usage = usage


class CommandFailed(AGIError):
    """``result=-1`` on a channel that is still up (e.g. a prompt file that cannot be played)."""


class ProtocolError(AGIError):
    """The peer sent something that is not FastAGI (garbage, over-long line or header)."""


class AGITimeout(AGIError):
    """A command's reply did not come in time: the call is treated as lost."""
