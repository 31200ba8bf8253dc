-- One rate-limit budget shared by every process that spends it (auditor/fetch/limits.py).
--
-- KEYS[1]  the token bucket: a hash {tokens, at} (tokens left, and when, in microseconds)
-- KEYS[2]  "blocked until": microseconds since the epoch, by this server's clock
-- ARGV[1]  "take": ARGV[2] the bucket's capacity (0: no documented limit, only the block
--          counts), ARGV[3] microseconds one token takes to come back, ARGV[4] the bucket's
--          time to live in milliseconds. Answers {0, 'go'} when a request may go now (its token
--          is taken), else {microseconds to wait before asking again, 'blocked' or 'bucket'}
--          (nothing is taken).
-- ARGV[1]  "block": ARGV[2] microseconds from now that nobody may spend the budget; a later
--          block than the one kept replaces it, an earlier one changes nothing. Answers {0, 'go'}.
--
-- Every time is this server's (TIME), never a caller's clock: the processes sharing a budget
-- may run on machines whose clocks disagree.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0') or 0

if ARGV[1] == 'block' then
  local block_until = now + tonumber(ARGV[2])
  if block_until > blocked then
    -- The key lives as long as the block: nothing is left behind once it has passed.
    redis.call('SET', KEYS[2], string.format('%.0f', block_until),
               'PX', math.ceil((block_until - now) / 1000) + 1)
  end
  return {0, 'go'}
end

if blocked > now then
  return {math.ceil(blocked - now), 'blocked'}
end

local capacity = tonumber(ARGV[2])
if capacity <= 0 then
  return {0, 'go'}
end
local per_token = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
-- A server clock stepped back refills nothing, and takes nothing back either.
local elapsed = math.max(0, now - at)
tokens = math.min(capacity, tokens + elapsed / per_token)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * per_token)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
if wait > 0 then
  return {wait, 'bucket'}
end
return {0, 'go'}
