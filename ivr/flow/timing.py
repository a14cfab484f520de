"""The flow's timers and tries: plain values the composition root reads from the environment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """How long the call flow waits (seconds), and how many tries a step gets."""

    first_key_s: float = 10.0  # after a prompt, for the first key (IVR_FIRST_KEY_S)
    inter_key_s: float = 5.0  # between keys of one entry (IVR_INTER_KEY_S)
    tries: int = 3  # wrong entries at one step before the call ends (IVR_TRIES)
    max_call_s: float = 300.0  # whole call, then outcome timeout_call (IVR_MAX_CALL_S)
