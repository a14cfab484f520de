"""The Lua scripts: each change and its audit entry happen in one atomic step.

Each script is a `Script`: its Lua text together with the names of its KEYS and ARGV.
The names are the one source of the order: the Lua text starts with a generated
`local name = KEYS[i]` / `local name = ARGV[i]` header (the bodies never index KEYS or
ARGV), and Python callers pass values by name (`script.key_list(...)`,
`script.arg_list(...)`), so neither side restates a position.

Contracts (the credential scripts take one number's record, verifier and audit keys, so
one hash slot; times are integer milliseconds from the caller's clock, never Redis's, so
tests can move time; every ARGV value arrives as a string):

- SET      Replaces whatever was there with a valid record. Returns the previous state
           (valid, expired, locked, consumed, none).
- BEGIN    First half of a verify: settles expiry, and either answers (audited)
           {outcome} or hands out {"check", gen, kdf, salt, verifier}.
- FINISH   Second half: applies the comparison result only if the record is still the
           same generation and valid, else {"retry"}; counts failures and invalidates at
           the limit. Returns {outcome, failures}.
- CONSUME  Valid -> consumed (verifier deleted). Returns the state found ("valid" means
           it was consumed).
- CLEAR    Deletes the record. Returns the state found.
- UNIT     The contract's key. Records the contract's unit unless a later one is there.
- ADMIT / FAILURE  One caller's calls and failures keys: the sliding-window limiter.

The real password's scripts (login, change) are in store/account_scripts.py; they start
with the same PRELUDE, so a change consumes the temporary password exactly as CONSUME does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class Script(str):
    """Lua source (a str, ready for `register_script`) that knows its KEYS and ARGV names."""

    keys: tuple[str, ...]
    args: tuple[str, ...]

    def __new__(cls, body: str, *, keys: tuple[str, ...], args: tuple[str, ...]) -> Script:
        names = keys + args
        if len(set(names)) != len(names) or not all(_NAME.fullmatch(n) for n in names):
            raise ValueError(f"script names must be distinct Lua identifiers: {names}")
        if re.search(r"\b(KEYS|ARGV)\[", body):
            raise ValueError("a script body must use the named locals, not KEYS[i] / ARGV[i]")
        header = [f"local {n} = KEYS[{i}]" for i, n in enumerate(keys, 1)]
        header += [f"local {n} = ARGV[{i}]" for i, n in enumerate(args, 1)]
        self = super().__new__(cls, "\n".join(header) + "\n" + body)
        self.keys = keys
        self.args = args
        return self

    @staticmethod
    def _ordered(what: str, names: tuple[str, ...], values: Mapping[str, object]) -> list[str]:
        if set(values) != set(names):
            missing = sorted(set(names) - set(values))
            extra = sorted(set(values) - set(names))
            raise TypeError(f"script {what}: missing {missing}, unexpected {extra}")
        return [str(values[n]) for n in names]

    def key_list(self, **values: str) -> list[str]:
        """KEYS in the script's order, from values given by name."""
        return self._ordered("keys", self.keys, values)

    def arg_list(self, **values: object) -> list[str]:
        """ARGV in the script's order, from values given by name (each sent as str)."""
        return self._ordered("args", self.args, values)


# Every credential script touches one number's three keys and ends with the audit and
# retention limits (ms as strings).
RECORD_KEYS = ("record_key", "verifier_key", "audit_key")
TAIL = ("audit_max", "audit_ttl_ms", "retain_ms")

PRELUDE = """
local now = tonumber(now_ms)
local audit_ttl = tonumber(audit_ttl_ms)
local retain = tonumber(retain_ms)

local function audit(...)
  redis.call('XADD', audit_key, 'MAXLEN', '~', audit_max, '*', 't', now_ms, ...)
  redis.call('PEXPIRE', audit_key, audit_ttl)
end

local function expire_now(expires)
  redis.call('DEL', verifier_key)
  redis.call('HSET', record_key, 'state', 'expired', 'state_at', expires)
  local owner = redis.call('HGET', record_key, 'number')
  audit('event', 'expired', 'number', owner, 'outcome', 'expired')
end

-- The record's state now: expiry and the end of retention are applied on the way.
local function settle()
  local r = redis.call('HMGET', record_key, 'state', 'expires', 'purge_at')
  if not r[1] then return 'none' end
  if now >= tonumber(r[3]) then
    redis.call('DEL', record_key, verifier_key)
    return 'none'
  end
  if r[1] == 'valid' then
    if now >= tonumber(r[2]) or redis.call('EXISTS', verifier_key) == 0 then
      expire_now(r[2])
      return 'expired'
    end
  end
  return r[1]
end

-- A valid temporary password stops working (the real one was set): verifier deleted.
local function consume_now(actor)
  redis.call('DEL', verifier_key)
  redis.call('HSET', record_key, 'state', 'consumed', 'state_at', now_ms,
    'purge_at', tostring(now + retain))
  redis.call('PEXPIRE', record_key, retain)
  audit('event', 'consume', 'number', number, 'outcome', 'consumed', 'actor', actor)
end

-- An operator's clear of a record found in `state` (extra audit fields may follow).
local function audit_clear(state, operator, ...)
  local outcome = 'cleared'
  if state == 'none' then outcome = 'none' end
  audit('event', 'clear', 'number', number, 'outcome', outcome, 'actor', operator,
    'state', state, ...)
  return state
end
"""


def _credential(body: str, *args: str) -> Script:
    return Script(PRELUDE + body, keys=RECORD_KEYS, args=("now_ms", *args, *TAIL))


SET = _credential(
    """
local expires = tonumber(expires_ms)
local prev = settle()
redis.call('DEL', record_key, verifier_key)
redis.call('HSET', record_key, 'schema', '1', 'kind', 'tpw', 'number', number,
  'contract', contract, 'unit', unit, 'set_by', set_by, 'call_id', call_id,
  'created', now_ms, 'expires', expires_ms, 'purge_at', tostring(expires + retain),
  'failures', '0', 'state', 'valid', 'gen', gen, 'kdf', kdf)
redis.call('HSET', verifier_key, 'salt', salt, 'verifier', verifier)
redis.call('PEXPIRE', verifier_key, expires - now)
redis.call('PEXPIRE', record_key, expires + retain - now)
audit('event', 'set', 'number', number, 'outcome', 'set', 'call_id', call_id,
  'actor', set_by, 'unit', unit, 'contract', contract, 'replaced', prev,
  'expires', expires_ms)
return prev
""",
    "expires_ms",
    "number",
    "contract",
    "unit",
    "set_by",
    "call_id",
    "gen",
    "salt",
    "verifier",
    "kdf",
)

BEGIN = _credential(
    """
local state = settle()
if state ~= 'valid' then
  local outcome = state
  if state == 'consumed' then outcome = 'none' end
  audit('event', 'verify', 'number', number, 'outcome', outcome, 'actor', actor)
  return {outcome}
end
local r = redis.call('HMGET', record_key, 'gen', 'kdf')
local v = redis.call('HMGET', verifier_key, 'salt', 'verifier')
return {'check', r[1], r[2], v[1], v[2]}
""",
    "number",
    "actor",
)

FINISH = _credential(
    """
local r = redis.call('HMGET', record_key, 'gen', 'state', 'expires')
if r[1] ~= gen or r[2] ~= 'valid' or now >= tonumber(r[3]) then
  return {'retry', 0}
end
if match == '1' then
  redis.call('HSET', record_key, 'failures', '0')
  audit('event', 'verify', 'number', number, 'outcome', 'ok', 'actor', actor,
    'failures', '0')
  return {'ok', 0}
end
local failures = redis.call('HINCRBY', record_key, 'failures', 1)
if failures >= tonumber(max_failures) then
  redis.call('DEL', verifier_key)
  redis.call('HSET', record_key, 'state', 'locked', 'state_at', now_ms,
    'purge_at', tostring(now + retain))
  redis.call('PEXPIRE', record_key, retain)
  audit('event', 'verify', 'number', number, 'outcome', 'locked', 'actor', actor,
    'failures', tostring(failures))
  audit('event', 'invalidated', 'number', number, 'outcome', 'locked',
    'actor', actor, 'reason', 'failures')
  return {'locked', failures}
end
audit('event', 'verify', 'number', number, 'outcome', 'wrong', 'actor', actor,
  'failures', tostring(failures))
return {'wrong', failures}
""",
    "number",
    "actor",
    "gen",
    "match",
    "max_failures",
)

CONSUME = _credential(
    """
local state = settle()
if state ~= 'valid' then
  audit('event', 'consume', 'number', number, 'outcome', 'none', 'actor', actor,
    'state', state)
  return state
end
consume_now(actor)
return state
""",
    "number",
    "actor",
)

CLEAR = _credential(
    """
local state = settle()
redis.call('DEL', record_key, verifier_key)
return audit_clear(state, operator)
""",
    "number",
    "operator",
)

UNIT = Script(
    """
-- A later write always wins.
local at = tonumber(redis.call('HGET', contract_key, 'at') or '-1')
if tonumber(at_ms) < at then return 0 end
redis.call('HSET', contract_key, 'unit', unit, 'at', at_ms, 'number', number,
  'call_id', call_id)
return 1
""",
    keys=("contract_key",),
    args=("unit", "at_ms", "number", "call_id"),
)

ADMIT = Script(
    """
-- Returns 1 when admitted. Every call is counted, refused ones too; a set keeps at most
-- calls_max + 1 entries, enough to decide, so a caller hammering us cannot grow it.
local now = tonumber(now_ms)
local window = tonumber(window_ms)
local calls = tonumber(calls_max)
local fails = tonumber(failures_max)
local admitted = 1
redis.call('ZREMRANGEBYSCORE', failures_key, '-inf', now - window)
if fails > 0 and redis.call('ZCARD', failures_key) >= fails then
  admitted = 0
end
if calls > 0 then
  redis.call('ZREMRANGEBYSCORE', calls_key, '-inf', now - window)
  redis.call('ZADD', calls_key, now, member)
  redis.call('ZREMRANGEBYRANK', calls_key, 0, -(calls + 2))
  redis.call('PEXPIRE', calls_key, window)
  if redis.call('ZCARD', calls_key) > calls then admitted = 0 end
end
return admitted
""",
    keys=("calls_key", "failures_key"),
    args=("now_ms", "window_ms", "calls_max", "failures_max", "member"),
)

FAILURE = Script(
    """
-- Counts one failed call; keeps failures_max entries. Returns the count.
local now = tonumber(now_ms)
local window = tonumber(window_ms)
redis.call('ZREMRANGEBYSCORE', failures_key, '-inf', now - window)
redis.call('ZADD', failures_key, now, member)
redis.call('ZREMRANGEBYRANK', failures_key, 0, -(tonumber(failures_max) + 1))
redis.call('PEXPIRE', failures_key, window)
return redis.call('ZCARD', failures_key)
""",
    keys=("failures_key",),
    args=("now_ms", "window_ms", "failures_max", "member"),
)
