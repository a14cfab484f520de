"""The closed sets operators, tools and metric labels rely on (shared/spec/interfaces.md).

Strings, not the flow's enums, so the composition root's tools (calls tail, metrics) read
them without importing the flow; tests/ivr/app/test_metrics.py checks they match the enums.
"""

# How a call ended ("Call log").
OUTCOMES = (
    "set",
    "failed_strikes",
    "abandoned",
    "rejected_anonymous",
    "rejected_not_subscribed",
    "rejected_rate_limited",
    "error_store",
    "error_internal",
    "timeout_call",
    "rejected_capacity",
)
STEPS = ("caller_check", "menu", "target", "password", "commit", "done")
STRIKE_REASONS = ("no_input", "invalid_key", "bad_length", "not_in_contract", "mismatch")
REJECTION_REASONS = (
    "anonymous",  # 433
    "not_subscribed",  # 403
    "rate_limited",  # 486
    "capacity",  # 503: over IVR_AGI_MAX_CALLS
    "store_down",  # 503: Redis or the directory unreachable at the caller check
    "address_not_allowed",  # a FastAGI connection from outside IVR_AGI_ALLOW
)
# The KDF apart from the Redis round trips, so a slow scrypt and a slow Redis differ.
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
