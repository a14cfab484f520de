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
    "rate_limited",  # 486
    "capacity",  # 503: over IVR_AGI_MAX_CALLS
    "store_down",  # 503: Redis or the directory unreachable at the caller check
    "address_not_allowed",  # a FastAGI connection from outside IVR_AGI_ALLOW
)
# The KDF apart from the Redis round trips, so a slow derivation and a slow Redis differ.
STORE_OPERATIONS = (
    "kdf",
    "redis_set",
    "redis_verify",
    "redis_consume",
    "redis_show",
    "redis_clear",
    "redis_limits",
    "directory_lookup",
)
