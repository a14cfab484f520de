"""The real password's Lua scripts: login and change, each one atomic step with its audit.

They take one number's five keys (the temporary password's record and verifier, the real
password's record and verifier, the audit stream: one hash slot) and start with the
temporary scripts' PRELUDE (`settle`, `consume_now`, `audit`), so the temporary password
is judged and consumed exactly as `store/scripts.py` does it.

- LOGIN_BEGIN  Which password a login checks: a valid temporary password first (the
               subscriber dialled in because the real one was forgotten or locked), else
               the real one while it is valid or aged (past its 60 days). Hands out
               {"check", credential, gen, kdf, salt, verifier} or answers {outcome}
               (locked, expired or none; audited as event `login`).
- PW_FINISH    Applies a real-password comparison if the record is still generation `gen`
               and valid: match -> ok (must_change when aged), failures reset; no match ->
               failures+1, and at `max_failures` locked (verifier deleted). {"retry"} else.
               (A temporary password's comparison is applied by scripts.FINISH itself.)
- CHANGE       The new real password: only if the checked credential is still generation
               `gen` and valid; replaces the real password (new record and verifier,
               failures 0, expires = now + validity) and consumes a valid temporary
               password in the same step. Returns "changed" or "retry".
- PW_CLEAR     An operator deletes the real password. Returns the state found.
"""

from __future__ import annotations

from store.scripts import PRELUDE, TAIL, Script

KEYS = ("record_key", "verifier_key", "account_key", "account_verifier_key", "audit_key")

_ACCOUNT = """
-- The real password's state: valid, aged (past its validity: must change), locked, none.
local function account_state()
  local r = redis.call('HMGET', account_key, 'state', 'expires')
  if not r[1] then return 'none' end
  if r[1] == 'valid' then
    if redis.call('EXISTS', account_verifier_key) == 0 then return 'none' end
    if now >= tonumber(r[2]) then return 'aged' end
  end
  return r[1]
end

local function hand_out(rec, ver, credential)
  local r = redis.call('HMGET', rec, 'gen', 'kdf')
  local v = redis.call('HMGET', ver, 'salt', 'verifier')
  return {'check', credential, r[1], r[2], v[1], v[2]}
end
"""


def _account(body: str, *args: str) -> Script:
    return Script(PRELUDE + _ACCOUNT + body, keys=KEYS, args=("now_ms", *args, *TAIL))


LOGIN_BEGIN = _account(
    """
local tstate = settle()
if tstate == 'valid' then return hand_out(record_key, verifier_key, 'temporary') end
local astate = account_state()
if astate == 'valid' or astate == 'aged' then
  return hand_out(account_key, account_verifier_key, 'password')
end
local outcome = 'none'
if astate == 'locked' or tstate == 'locked' then
  outcome = 'locked'
elseif tstate == 'expired' then
  outcome = 'expired'
end
audit('event', 'login', 'number', number, 'outcome', outcome, 'actor', actor)
return {outcome}
""",
    "number",
    "actor",
)

PW_FINISH = _account(
    """
local r = redis.call('HMGET', account_key, 'gen', 'state', 'expires')
if r[1] ~= gen or r[2] ~= 'valid' then return {'retry', 0} end
if match == '1' then
  redis.call('HSET', account_key, 'failures', '0')
  local outcome = 'ok'
  if now >= tonumber(r[3]) then outcome = 'must_change' end
  audit('event', 'login', 'number', number, 'outcome', outcome, 'actor', actor,
    'credential', 'password', 'failures', '0')
  return {outcome, 0}
end
local failures = redis.call('HINCRBY', account_key, 'failures', 1)
local outcome = 'wrong'
if failures >= tonumber(max_failures) then
  outcome = 'locked'
  redis.call('DEL', account_verifier_key)
  redis.call('HSET', account_key, 'state', 'locked', 'state_at', now_ms)
end
audit('event', 'login', 'number', number, 'outcome', outcome, 'actor', actor,
  'credential', 'password', 'failures', tostring(failures))
if outcome == 'locked' then
  audit('event', 'invalidated', 'number', number, 'outcome', 'locked', 'actor', actor,
    'credential', 'password', 'reason', 'failures')
end
return {outcome, failures}
""",
    "number",
    "actor",
    "gen",
    "match",
    "max_failures",
)

CHANGE = _account(
    """
local tstate = settle()
local checked = account_key
if credential == 'temporary' then checked = record_key end
local r = redis.call('HMGET', checked, 'gen', 'state')
if r[1] ~= gen or r[2] ~= 'valid' then return 'retry' end
if credential == 'temporary' and tstate ~= 'valid' then return 'retry' end
-- a temporary password set meanwhile is what a login checks now: check again
if credential == 'password' and (tstate == 'valid' or account_state() == 'none') then
  return 'retry'
end
redis.call('DEL', account_key, account_verifier_key)
redis.call('HSET', account_key, 'schema', '1', 'kind', 'pw', 'number', number,
  'set_by', actor, 'created', now_ms, 'expires', expires_ms, 'failures', '0',
  'state', 'valid', 'gen', new_gen, 'kdf', kdf)
redis.call('HSET', account_verifier_key, 'salt', salt, 'verifier', verifier)
audit('event', 'change', 'number', number, 'outcome', 'changed', 'actor', actor,
  'credential', credential, 'expires', expires_ms)
if tstate == 'valid' then consume_now(actor) end
return 'changed'
""",
    "number",
    "actor",
    "credential",
    "gen",
    "expires_ms",
    "new_gen",
    "salt",
    "verifier",
    "kdf",
)

PW_CLEAR = _account(
    """
local state = account_state()
redis.call('DEL', account_key, account_verifier_key)
return audit_clear(state, operator, 'credential', 'password')
""",
    "number",
    "operator",
)
