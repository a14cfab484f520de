"""One FastAGI connection as a sans-I/O object, in the shape of h11: bytes in, events out.

Feed what the socket read (``b""`` for EOF) to ``receive_data`` and get events: the
environment once, then the reply to each command and hang-up notices. ``send_command``
turns a command into the bytes to write. Every rule of one reply lives here (one command in
flight, replies of abandoned commands skipped, ``HANGUP`` lines never taken as a reply,
``511``/``-1``/``(hangup)`` judged), and each is a test without a socket. The one rule that
needs another round trip (a ``-1`` on a live channel: ``CHANNEL STATUS`` tells a failed
command from a hang-up) is in ``agi.server``, which also moves the bytes and bounds the
waits. Standard library only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agi.errors import AGIError, CommandError, CommandFailed, HangupError, ProtocolError
from agi.wire import (
    AgiEnvironment,
    EnvironmentReader,
    HangupNotice,
    Reply,
    ReplyCode,
    ReplyReader,
    format_command,
)


class State(enum.Enum):
    AWAITING_ENVIRONMENT = "awaiting environment"
    IDLE = "idle"  # a command may be sent
    AWAITING_REPLY = "awaiting reply"
    GONE = "gone"  # hung up, closed or unusable: nothing more may be sent


@dataclass(frozen=True)
class EnvironmentReceived:
    env: AgiEnvironment


Event = EnvironmentReceived | Reply | HangupNotice


class Connection:
    """The Asterisk side of one FastAGI session, as state and rules only."""

    def __init__(self) -> None:
        self._env_reader: EnvironmentReader | None = EnvironmentReader()
        self._replies = ReplyReader()
        self.env: AgiEnvironment | None = None
        self.hangup_seen = False  # a HANGUP line, a 511 or EOF: the channel is gone
        self._closed = False
        self._awaiting = False  # a live waiter wants the next reply
        self._orphans = 0  # commands sent whose waiter gave up: their replies are skipped
        self._lost: type[AGIError] | None = None  # the stream is unusable, and why

    @property
    def state(self) -> State:
        if self._awaiting and not self._closed and self._lost is None:
            return State.AWAITING_REPLY
        if self.hangup_seen or self._closed or self._lost is not None:
            return State.GONE
        return State.AWAITING_ENVIRONMENT if self.env is None else State.IDLE

    # --- bytes in ---------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Events for what arrived; ``b""`` is EOF. Garbage raises ProtocolError (and sticks)."""
        if not data:
            self._closed = self.hangup_seen = True
            return [HangupNotice()]
        try:
            return self._receive(data)
        except ProtocolError:
            self._lost = ProtocolError
            raise

    def _receive(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self._env_reader is not None:
            env = self._env_reader.feed(data)
            if env is None:
                return events
            self.env, data = env, self._env_reader.leftover
            self.hangup_seen = self.hangup_seen or self._env_reader.hangup_seen
            self._env_reader = None
            events.append(EnvironmentReceived(env))
        for event in self._replies.feed(data):
            if isinstance(event, HangupNotice):
                self.hangup_seen = True
                events.append(event)
            elif self._orphans:
                self._orphans -= 1
            elif self._awaiting:
                self._awaiting = False
                self.hangup_seen = self.hangup_seen or event.code == ReplyCode.DEAD_CHANNEL
                events.append(event)
            else:
                raise ProtocolError("a reply without a command")
        return events

    # --- commands out -----------------------------------------------------------------

    def send_command(self, verb: str, *args: str | int) -> bytes:
        """The bytes of one command; refused unless idle (one command in flight)."""
        line = format_command(verb, *args)
        if self._lost is not None:
            raise self._lost("call lost after an earlier failure")
        if self.hangup_seen or self._closed:
            raise HangupError("channel already hung up")
        if self.env is None:
            raise ProtocolError("no command before the environment")
        if self._awaiting:
            raise RuntimeError("one command in flight: await its reply first")
        self._awaiting = True
        return line

    def abandon_command(self) -> None:
        """The waiter for the outstanding reply gave up (cancelled): skip that reply."""
        if self._awaiting:
            self._awaiting = False
            self._orphans += 1

    def channel_gone(self) -> None:
        """The caller learned otherwise that the channel is gone (e.g. its status)."""
        self.hangup_seen = True

    def lose(self, why: type[AGIError]) -> None:
        """The stream can no longer be trusted (e.g. a reply that never came)."""
        self._lost = why

    def judge(self, reply: Reply) -> Reply:
        """A reply as the caller should see it: refusals and hang-ups raise.

        ``result=-1`` means "the channel is gone" only when Asterisk also said so; otherwise
        it is CommandFailed and the channel's status decides (agi.server asks it).
        """
        if reply.code == ReplyCode.DEAD_CHANNEL or reply.data == "hangup":
            self.hangup_seen = True
            raise HangupError("the channel is gone")
        if reply.code in (ReplyCode.INVALID, ReplyCode.USAGE):
            raise CommandError(reply.code, reply.usage)
        if reply.result == "-1":
            if self.hangup_seen:
                raise HangupError("result -1 after a hang-up")
            raise CommandFailed("result -1")
        return reply
