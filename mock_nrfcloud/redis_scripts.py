"""The Lua scripts that make every change of the Redis store atomic (see redis_store.py).

Redis runs a script alone: nothing else touches the data while it runs, on any replica.
So choosing a one-shot response and using it up, and appending the call to the journal
with its id, happen as one step; two replicas can never serve the same one-shot.

Key layout (``P`` is the store's prefix, ``A`` an account's prefix ``P a:<len>:<name>:``;
the length makes names with ``:`` unambiguous; ``ep`` is ``"<METHOD> <path>"``):

- ``P eid``, ``P seq``: journal entry ids and response queue order (never reset)
- ``P accounts``: hash, account name -> last use (epoch seconds)
- ``P r:<id>``: hash, a queued response (``acc ep seq spec rem keep exp cond ans asz
  served created loaded``)
- ``A r``: zset of the account's pending response ids by seq
- ``A o:<ep>`` / ``A k:<ep>``: zsets of an endpoint's one-shot / kept responses by seq
- ``A j``: stream, the journal (stream id ``<entry id>-0``; fields ``q`` request JSON,
  ``a`` answer JSON, ``k`` ep, ``sz`` bytes)
- ``A jb``, ``A jd``: the journal's bytes and dropped count
- ``A ix:<ep>``: zset of the entry ids journaled for an endpoint (``find``, ``count``);
  ``A eps``: set of the endpoints with such an index
- ``A f``, ``A fs``: stream and seq counter of the message-bridge feed
- ``A fl``: zset of the account's live journal readers (SSE), scored by when their
  claim runs out (renewed while they read; a replica killed with readers open leaves
  claims that run out on their own)
- ``P loaded``: set of the ``--load`` response ids; ``P baseline``: the load file's digest
"""

from __future__ import annotations

# Shared Lua helpers, prepended to the scripts that need them.
_COMMON = r"""
local function forget(P, id)
  local r = P .. 'r:' .. id
  local f = redis.call('HMGET', r, 'acc', 'ep', 'keep')
  if not f[1] then return 0 end
  local A = P .. 'a:' .. string.len(f[1]) .. ':' .. f[1] .. ':'
  redis.call('ZREM', A .. 'r', id)
  if f[3] == '1' then
    redis.call('ZREM', A .. 'k:' .. f[2], id)
  else
    redis.call('ZREM', A .. 'o:' .. f[2], id)
  end
  redis.call('SREM', P .. 'loaded', id)
  redis.call('DEL', r)
  return 1
end

local function journal(P, A, q, a, ep, sz, limit, maxb)
  local eid = redis.call('INCR', P .. 'eid')
  local j = A .. 'j'
  redis.call('XADD', j, eid .. '-0', 'q', q, 'a', a, 'k', ep, 'sz', sz)
  redis.call('ZADD', A .. 'ix:' .. ep, eid, eid)
  redis.call('SADD', A .. 'eps', ep)
  local bytes = redis.call('INCRBY', A .. 'jb', sz)
  local len = redis.call('XLEN', j)
  local dropped = 0
  while len > limit or (maxb >= 0 and bytes > maxb and len > 1) do
    local old = redis.call('XRANGE', j, '-', '+', 'COUNT', 1)[1]
    if not old then break end
    local fields = old[2]
    local oep, osz = '', 0
    for i = 1, #fields, 2 do
      if fields[i] == 'k' then oep = fields[i + 1] elseif fields[i] == 'sz' then
        osz = tonumber(fields[i + 1]) end
    end
    redis.call('XDEL', j, old[1])
    local oid = string.sub(old[1], 1, string.find(old[1], '-', 1, true) - 1)
    local ix = A .. 'ix:' .. oep
    redis.call('ZREM', ix, oid)
    if redis.call('EXISTS', ix) == 0 then redis.call('SREM', A .. 'eps', oep) end
    bytes = redis.call('INCRBY', A .. 'jb', -osz)
    len = len - 1
    dropped = dropped + 1
  end
  if dropped > 0 then redis.call('INCRBY', A .. 'jd', dropped) end
  return eid
end
"""

# Serve one call. ARGV: P, A, account, ep, now, matched ids, known ids, have ids,
# request JSON, request bytes, journal limit, max bytes (-1: none), not-found answer JSON.
# The ids are space-separated. Conditional responses (query or body matchers: RE2 and
# JSONPath, which Lua has not) are judged by the caller beforehand: ``matched`` holds
# those that match, ``known`` every conditional one the caller judged. Meeting a
# conditional response it did not judge, the script changes nothing and answers
# ``{'need', ids...}``; the caller fetches and judges them and calls again.
# Otherwise: ``{'ok', entry id, response id or '', spec or '' (when not in ``have``),
# the account's pending responses (when none was chosen, else 0)}``; entry id 0 when the
# caller makes the answer and journals it (a template, or a 404 with pending responses
# whose near misses it names).
SERVE = (
    _COMMON
    + r"""
local P, A, acc, ep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[5])
local matched, known, have = {}, {}, {}
for id in string.gmatch(ARGV[6], '%S+') do matched[id] = true end
for id in string.gmatch(ARGV[7], '%S+') do known[id] = true end
for id in string.gmatch(ARGV[8], '%S+') do have[id] = true end
redis.call('HSET', P .. 'accounts', acc, ARGV[5])
local unknown = {}
local chosen = nil
local function eligible(id)
  local f = redis.call('HMGET', P .. 'r:' .. id, 'exp', 'cond')
  if not f[2] then return false end
  if f[1] ~= '' and tonumber(f[1]) <= now then forget(P, id) return false end
  if f[2] == '1' then
    if matched[id] then return true end
    if not known[id] then unknown[#unknown + 1] = id end
    return false
  end
  return true
end
local function scan(key, reverse)
  local start = 0
  while true do
    local ids
    if reverse then
      ids = redis.call('ZRANGE', key, start, start + 63, 'REV')
    else
      ids = redis.call('ZRANGE', key, start, start + 63)
    end
    if #ids == 0 then return nil end
    for _, id in ipairs(ids) do
      if eligible(id) then return id end
    end
    start = start + 64
  end
end
chosen = scan(A .. 'o:' .. ep, false)
if not chosen and #unknown == 0 then chosen = scan(A .. 'k:' .. ep, true) end
if #unknown > 0 then
  table.insert(unknown, 1, 'need')
  return unknown
end
local answer, size, spec = ARGV[13], tonumber(ARGV[10]), ''
local deferred = false
if chosen then
  local r = P .. 'r:' .. chosen
  local f = redis.call('HMGET', r, 'ans', 'asz', 'keep', 'spec', 'tpl')
  answer = f[1]
  size = size + tonumber(f[2])
  if not have[chosen] then spec = f[4] end
  deferred = f[5] == '1'
  redis.call('HINCRBY', r, 'served', 1)
  if f[3] ~= '1' then
    if redis.call('HINCRBY', r, 'rem', -1) <= 0 then forget(P, chosen) end
  end
else
  size = size + string.len(ARGV[13])
end
local pending = 0
if not chosen then
  pending = redis.call('ZCARD', A .. 'r')
  deferred = pending > 0
end
if deferred then
  -- The answer is made by the caller (a template rendered for the call, or a 404 that
  -- names the closest queued responses): it journals the call with RECORD.
  return {'ok', 0, chosen or '', spec, pending}
end
local eid = journal(P, A, ARGV[9], answer, ep, size, tonumber(ARGV[11]), tonumber(ARGV[12]))
return {'ok', eid, chosen or '', spec, pending}
"""
)

# Journal a call the mock answered itself. ARGV: P, A, account, ep, now, request JSON,
# answer JSON, bytes, limit, max bytes. Returns the entry id.
RECORD = (
    _COMMON
    + r"""
local P, A = ARGV[1], ARGV[2]
redis.call('HSET', P .. 'accounts', ARGV[3], ARGV[5])
return journal(P, A, ARGV[6], ARGV[7], ARGV[4], tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]))
"""
)

# Queue responses. ARGV: P, digest (or '' when not a --load install), then per response
# 14 values: id, account prefix A, account, ep, spec, rem, keep, exp, cond, ans, asz,
# created, loaded, tpl. With a digest: when ``P baseline`` already holds it, nothing happens
# (another replica installed this load file); else the old loaded responses go first.
# Returns the seqs given, in order.
QUEUE = (
    _COMMON
    + r"""
local P, digest = ARGV[1], ARGV[2]
if digest ~= '' then
  if redis.call('GET', P .. 'baseline') == digest then return {} end
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'loaded')) do forget(P, id) end
  redis.call('SET', P .. 'baseline', digest)
end
local seqs = {}
local i = 3
while i <= #ARGV do
  local id, A, acc, ep = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local seq = redis.call('INCR', P .. 'seq')
  local keep = ARGV[i + 6]
  redis.call('HSET', P .. 'r:' .. id, 'acc', acc, 'ep', ep, 'seq', seq, 'spec', ARGV[i + 4],
    'rem', ARGV[i + 5], 'keep', keep, 'exp', ARGV[i + 7], 'cond', ARGV[i + 8],
    'ans', ARGV[i + 9], 'asz', ARGV[i + 10], 'served', 0, 'created', ARGV[i + 11],
    'tpl', ARGV[i + 13])
  redis.call('ZADD', A .. 'r', seq, id)
  if keep == '1' then
    redis.call('ZADD', A .. 'k:' .. ep, seq, id)
  else
    redis.call('ZADD', A .. 'o:' .. ep, seq, id)
  end
  if ARGV[i + 12] == '1' then redis.call('SADD', P .. 'loaded', id) end
  if redis.call('HEXISTS', P .. 'accounts', acc) == 0 or digest == '' then
    redis.call('HSET', P .. 'accounts', acc, ARGV[i + 11])
  end
  seqs[#seqs + 1] = seq
  i = i + 14
end
return seqs
"""
)

# Remove responses by id. ARGV: P, ids... Returns how many existed.
FORGET = (
    _COMMON
    + r"""
local n = 0
for i = 2, #ARGV do n = n + forget(ARGV[1], ARGV[i]) end
return n
"""
)

# Remove every pending response of an account. ARGV: P, A. Returns how many.
FORGET_ACCOUNT = (
    _COMMON
    + r"""
local n = 0
for _, id in ipairs(redis.call('ZRANGE', ARGV[2] .. 'r', 0, -1)) do
  n = n + forget(ARGV[1], id)
end
return n
"""
)

# Clear an account's journal. ARGV: A. (Its dropped count goes too, as in memory.)
CLEAR_JOURNAL = r"""
local A = ARGV[1]
for _, ep in ipairs(redis.call('SMEMBERS', A .. 'eps')) do redis.call('DEL', A .. 'ix:' .. ep) end
redis.call('DEL', A .. 'eps', A .. 'j', A .. 'jb', A .. 'jd')
return 1
"""

# Forget an account that is still idle and has no live reader. ARGV: P, A, account,
# cutoff, now. Returns 1 if gone.
EVICT = (
    _COMMON
    + r"""
local P, A, acc = ARGV[1], ARGV[2], ARGV[3]
local used = redis.call('HGET', P .. 'accounts', acc)
if not used or tonumber(used) >= tonumber(ARGV[4]) then return 0 end
if redis.call('ZCOUNT', A .. 'fl', ARGV[5], '+inf') > 0 then return 0 end
for _, id in ipairs(redis.call('ZRANGE', A .. 'r', 0, -1)) do forget(P, id) end
for _, ep in ipairs(redis.call('SMEMBERS', A .. 'eps')) do redis.call('DEL', A .. 'ix:' .. ep) end
redis.call('DEL', A .. 'eps', A .. 'j', A .. 'jb', A .. 'jd', A .. 'r', A .. 'f', A .. 'fs',
  A .. 'fl')
redis.call('HDEL', P .. 'accounts', acc)
return 1
"""
)

# Append to an account's message-bridge feed. ARGV: A, message JSON, limit. Returns seq.
FEED_APPEND = r"""
local A = ARGV[1]
local seq = redis.call('INCR', A .. 'fs')
redis.call('XADD', A .. 'f', 'MAXLEN', tonumber(ARGV[3]), seq .. '-0', 'm', ARGV[2])
return seq
"""
