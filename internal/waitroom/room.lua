-- The waiting room of one event (see room.go for the key layout). Every call
-- first admits whoever the elapsed time allows (lazily: there is no ticker),
-- then does its operation:
--   join   ARGV[9] user, ARGV[10] new visitor id, ARGV[11] pre-open score
--          → {1, visitor, new (0/1), status...}
--   status ARGV[9] visitor → {1, visitor, 0, status...} or {0} not queued
--   booked ARGV[9] booking id → {1}
-- status is {rank, admitted so far, queue length, admission expiry ms (0:
-- none), rate, opened (0/1), sold out (0/1)}, and every call ends with the
-- join times (ms) of the visitors it admitted, for the wait histogram.
local K_QUEUE, K_USERS, K_JOINED, K_ADMITTED, K_STATE, K_BOOKED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local opens = tonumber(ARGV[3])
local fixed_rate = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local auto_min, auto_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local sold_out = ARGV[8] == '1'
local ttl = tonumber(ARGV[12])

-- Visitors who join after the room opened are scored after every pre-open
-- score, in arrival order.
local LATE = 4503599627370496 -- 2^52; pre-open scores are below it
-- At most this many admissions per call, and at most BANK_MS of them banked.
local MAX_ADMIT = 1000
local BANK_MS = 10000

local function rate()
  if fixed_rate > 0 then
    return fixed_rate
  end
  redis.call('ZREMRANGEBYSCORE', K_BOOKED, '-inf', now - 60000)
  local r = 2 * redis.call('ZCARD', K_BOOKED)
  if r < auto_min then r = auto_min end
  if r > auto_max then r = auto_max end
  return r
end

local st = redis.call('HMGET', K_STATE, 'admitted', 'last', 'bank', 'opened')
-- Time never goes back for a room: calls carry their instance's clock and
-- may reach Redis out of order, and admissions are stamped in queue order.
if st[2] and now < tonumber(st[2]) then
  now = tonumber(st[2])
end
local admitted = tonumber(st[1]) or 0
local opened = st[4] == '1'
local r = rate()
local waits = {}

-- admit moves the cursor over the queue: visitors ranked below it have been
-- admitted, each with an expiry in K_ADMITTED.
local function admit()
  if now < opens then
    return
  end
  local last = tonumber(st[2]) or opens
  if last < opens then last = opens end
  local bank = tonumber(st[3]) or 0
  if not opened then
    opened = true
    redis.call('HSET', K_STATE, 'opened', '1')
  end
  redis.call('ZREMRANGEBYSCORE', K_ADMITTED, '-inf', now)
  if sold_out then
    -- Nothing is banked while there is nothing to sell.
    redis.call('HSET', K_STATE, 'last', math.max(now, last), 'bank', 0)
    return
  end
  local cap = math.max(r * BANK_MS / 60000, 1)
  if now > last then
    bank = math.min(bank + (now - last) * r / 60000, cap)
  end
  local n = math.min(math.floor(bank), redis.call('ZCARD', K_QUEUE) - admitted, MAX_ADMIT)
  if n > 0 then
    local vs = redis.call('ZRANGE', K_QUEUE, admitted, admitted + n - 1)
    local until_ms = now + window
    for _, v in ipairs(vs) do
      redis.call('ZADD', K_ADMITTED, until_ms, v)
    end
    waits = redis.call('HMGET', K_JOINED, unpack(vs))
    admitted = admitted + n
    bank = bank - n
  end
  redis.call('HSET', K_STATE, 'admitted', admitted, 'last', math.max(now, last), 'bank', tostring(bank))
end

local function status(v)
  local rank = redis.call('ZRANK', K_QUEUE, v)
  if not rank then
    return nil
  end
  local exp = redis.call('ZSCORE', K_ADMITTED, v)
  if rank >= admitted then exp = false end
  return {rank, admitted, redis.call('ZCARD', K_QUEUE), exp and tonumber(exp) or 0, r,
    opened and 1 or 0, sold_out and 1 or 0}
end

local function touch()
  for _, k in ipairs(KEYS) do
    redis.call('PEXPIRE', k, ttl)
  end
end

local function answer(head, s)
  for _, x in ipairs(s) do head[#head + 1] = x end
  head[#head + 1] = waits
  return head
end

admit()

if op == 'booked' then
  redis.call('ZADD', K_BOOKED, now, ARGV[9])
  touch()
  return {1, waits}
end

if op == 'join' then
  local user = ARGV[9]
  local v = redis.call('HGET', K_USERS, user)
  if v then
    local rank = redis.call('ZRANK', K_QUEUE, v)
    if rank and (rank >= admitted or redis.call('ZSCORE', K_ADMITTED, v)) then
      return answer({1, v, 0}, status(v))
    end
    if rank then
      -- The admission expired: the visitor queues again at the back. The
      -- cursor moves back with the removed rank below it.
      redis.call('ZREM', K_QUEUE, v)
      admitted = admitted - 1
      redis.call('HSET', K_STATE, 'admitted', admitted)
    end
    redis.call('HDEL', K_JOINED, v)
  end
  v = ARGV[10]
  local score
  if opened then
    score = LATE + redis.call('HINCRBY', K_STATE, 'seq', 1)
  else
    score = ARGV[11]
  end
  redis.call('ZADD', K_QUEUE, score, v)
  redis.call('HSET', K_USERS, user, v)
  redis.call('HSET', K_JOINED, v, now)
  touch()
  return answer({1, v, 1}, status(v))
end

-- status
local s = status(ARGV[9])
if not s then
  return {0, waits}
end
return answer({1, ARGV[9], 0}, s)
