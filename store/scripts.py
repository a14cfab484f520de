"""The Lua scripts: each change and its audit entry happen in one atomic step.

Contracts (KEYS are always one number's keys, so one hash slot; times are integer
milliseconds from the caller's clock, never Redis's, so tests can move time):

- SET      KEYS record, verifier, audit. Replaces whatever was there with a valid record.
           Returns the previous state (valid, expired, locked, consumed, none).
- BEGIN    KEYS record, verifier, audit. First half of a verify: settles expiry, and either
           answers (audited) {outcome} or hands out {"check", gen, kdf, salt, verifier}.
- FINISH   KEYS record, verifier, audit. Second half: applies the comparison result only if
           the record is still the same generation and valid, else {"retry"}; counts
           failures and invalidates at the limit. Returns {outcome, failures}.
- CONSUME  KEYS record, verifier, audit. Valid -> consumed (verifier deleted). Returns the
           state found ("valid" means it was consumed).
- CLEAR    KEYS record, verifier, audit. Deletes the record. Returns the state found.
- UNIT     KEYS contract. Records the contract's unit unless a later one is already there.
- ADMIT / FAILURE  KEYS calls, failures of one caller: the sliding-window limiter.

The common ARGV tail of the credential scripts is: audit_max, audit_ttl_ms, retain_ms.
"""

from __future__ import annotations

# Shared by the credential scripts. ARGV[1] is always now (ms); the last three ARGV are
# audit_max, audit_ttl_ms, retain_ms.
_PRELUDE = """
local now = tonumber(ARGV[1])
local audit_max = ARGV[#ARGV - 2]
local audit_ttl = tonumber(ARGV[#ARGV - 1])
local retain = tonumber(ARGV[#ARGV])

local function audit(...)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', audit_max, '*', 't', ARGV[1], ...)
  redis.call('PEXPIRE', KEYS[3], audit_ttl)
end

local function expire_now(expires)
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'state', 'expired', 'state_at', expires)
  local number = redis.call('HGET', KEYS[1], 'number')
  audit('event', 'expired', 'number', number, 'outcome', 'expired')
end

-- The record's state now: expiry and the end of retention are applied on the way.
local function settle()
  local r = redis.call('HMGET', KEYS[1], 'state', 'expires', 'purge_at')
  if not r[1] then return 'none' end
  if now >= tonumber(r[3]) then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'none'
  end
  if r[1] == 'valid' then
    if now >= tonumber(r[2]) or redis.call('EXISTS', KEYS[2]) == 0 then
      expire_now(r[2])
      return 'expired'
    end
  end
  return r[1]
end
"""

SET = (
    _PRELUDE
    + """
-- ARGV: now, expires, number, contract, unit, set_by, call_id, gen, salt, verifier, kdf
local expires = tonumber(ARGV[2])
local prev = settle()
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'schema', '1', 'kind', 'tpw', 'number', ARGV[3],
  'contract', ARGV[4], 'unit', ARGV[5], 'set_by', ARGV[6], 'call_id', ARGV[7],
  'created', ARGV[1], 'expires', ARGV[2], 'purge_at', tostring(expires + retain),
  'failures', '0', 'state', 'valid', 'gen', ARGV[8], 'kdf', ARGV[11])
redis.call('HSET', KEYS[2], 'salt', ARGV[9], 'verifier', ARGV[10])
redis.call('PEXPIRE', KEYS[2], expires - now)
redis.call('PEXPIRE', KEYS[1], expires + retain - now)
audit('event', 'set', 'number', ARGV[3], 'outcome', 'set', 'call_id', ARGV[7],
  'actor', ARGV[6], 'unit', ARGV[5], 'contract', ARGV[4], 'replaced', prev,
  'expires', ARGV[2])
return prev
"""
)

BEGIN = (
    _PRELUDE
    + """
-- ARGV: now, number, actor
local state = settle()
if state ~= 'valid' then
  local outcome = state
  if state == 'consumed' then outcome = 'none' end
  audit('event', 'verify', 'number', ARGV[2], 'outcome', outcome, 'actor', ARGV[3])
  return {outcome}
end
local r = redis.call('HMGET', KEYS[1], 'gen', 'kdf')
local v = redis.call('HMGET', KEYS[2], 'salt', 'verifier')
return {'check', r[1], r[2], v[1], v[2]}
"""
)

FINISH = (
    _PRELUDE
    + """
-- ARGV: now, number, actor, gen, match (1/0), max_failures
local r = redis.call('HMGET', KEYS[1], 'gen', 'state', 'expires')
if r[1] ~= ARGV[4] or r[2] ~= 'valid' or now >= tonumber(r[3]) then
  return {'retry', 0}
end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'failures', '0')
  audit('event', 'verify', 'number', ARGV[2], 'outcome', 'ok', 'actor', ARGV[3],
    'failures', '0')
  return {'ok', 0}
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[6]) then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'state', 'locked', 'state_at', ARGV[1],
    'purge_at', tostring(now + retain))
  redis.call('PEXPIRE', KEYS[1], retain)
  audit('event', 'verify', 'number', ARGV[2], 'outcome', 'locked', 'actor', ARGV[3],
    'failures', tostring(failures))
  audit('event', 'invalidated', 'number', ARGV[2], 'outcome', 'locked',
    'actor', ARGV[3], 'reason', 'failures')
  return {'locked', failures}
end
audit('event', 'verify', 'number', ARGV[2], 'outcome', 'wrong', 'actor', ARGV[3],
  'failures', tostring(failures))
return {'wrong', failures}
"""
)

CONSUME = (
    _PRELUDE
    + """
-- ARGV: now, number, actor
local state = settle()
if state ~= 'valid' then
  audit('event', 'consume', 'number', ARGV[2], 'outcome', 'none', 'actor', ARGV[3],
    'state', state)
  return state
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'consumed', 'state_at', ARGV[1],
  'purge_at', tostring(now + retain))
redis.call('PEXPIRE', KEYS[1], retain)
audit('event', 'consume', 'number', ARGV[2], 'outcome', 'consumed', 'actor', ARGV[3])
return state
"""
)

CLEAR = (
    _PRELUDE
    + """
-- ARGV: now, number, operator
local state = settle()
redis.call('DEL', KEYS[1], KEYS[2])
local outcome = 'cleared'
if state == 'none' then outcome = 'none' end
audit('event', 'clear', 'number', ARGV[2], 'outcome', outcome, 'actor', ARGV[3],
  'state', state)
return state
"""
)

UNIT = """
-- KEYS: contract. ARGV: unit, at (ms), number, call_id. A later write always wins.
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '-1')
if tonumber(ARGV[2]) < at then return 0 end
redis.call('HSET', KEYS[1], 'unit', ARGV[1], 'at', ARGV[2], 'number', ARGV[3],
  'call_id', ARGV[4])
return 1
"""

ADMIT = """
-- KEYS: calls, failures. ARGV: now, window_ms, calls_max, failures_max, member.
-- Returns 1 when admitted. Every call is counted, refused ones too; a set keeps at most
-- calls_max + 1 entries, enough to decide, so a caller hammering us cannot grow it.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local calls_max = tonumber(ARGV[3])
local failures_max = tonumber(ARGV[4])
local admitted = 1
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if failures_max > 0 and redis.call('ZCARD', KEYS[2]) >= failures_max then
  admitted = 0
end
if calls_max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(calls_max + 2))
  redis.call('PEXPIRE', KEYS[1], window)
  if redis.call('ZCARD', KEYS[1]) > calls_max then admitted = 0 end
end
return admitted
"""

FAILURE = """
-- KEYS: failures. ARGV: now, window_ms, failures_max, member. Keeps failures_max entries.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
"""
