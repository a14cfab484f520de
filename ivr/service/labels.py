"""The closed sets metric labels and operators' tools rely on (docs/interfaces.md).

Outcomes, steps and strike reasons are the flow's own enums: one source. The rejection
reasons and store operations are the metrics' own vocabulary.
"""

from ivr.flow.entries import Strike
from ivr.flow.outcomes import Outcome, Step

OUTCOMES = tuple(str(o) for o in Outcome)  # how a call ended ("Call log")
STEPS = tuple(str(s) for s in Step)
STRIKE_REASONS = tuple(str(s) for s in Strike)
REJECTION_REASONS = (
    "anonymous",  # 433
    "not_subscribed",  # 403
    "rate_limited",  # 486: the caller is over IVR_LIMIT_CALLS_PER_HOUR or ..._FAILED_PER_HOUR
    "capacity",  # 503: over IVR_MAX_CALLS or IVR_MAX_CALLS_PER_S, or the event loop lagging
    "store_down",  # 503: Redis or the directory unreachable at the caller check
    # FastAGI connections refused by agi.server (docs/operations.md, "Where the metrics are"):
    "agi_capacity",  # over IVR_AGI_MAX_CALLS: the dialplan tries its next server
    "address_not_allowed",  # from outside IVR_AGI_ALLOW
    "wrong_secret",  # without the AGI URL's shared secret
)
# agi.server's reason for a refused connection -> the rejection it counts as.
CONNECTION_REFUSALS = {
    "capacity": "agi_capacity",
    "address": "address_not_allowed",
    "secret": "wrong_secret",
}
# What the service itself does with the store in a call, each timed on its own: the KDF
# apart from the Redis round trips, so a slow derivation and a slow Redis differ.
STORE_OPERATIONS = (
    "kdf",  # the password's derivation (Argon2id), in the KDF pool
    "redis_set",  # the record's and the contract's scripts, and WAIT for replicas
    "redis_limits",  # the per-caller limits: admit at the caller check, a failed call's count
    "directory_lookup",  # the caller check, unit 1's contract line, unit 2's target
)
