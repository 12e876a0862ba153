-- Shared head of the inventory scripts: every script but load.lua and
-- unlock.lua is this file followed by its own body (see scripts.go).
--
-- All keys of one event share one hash tag and come in through KEYS, in this
-- order, so the scripts run unchanged on Redis Cluster:
local K_META, K_KIND, K_CAP, K_AVAIL, K_SOLD, K_SEATS, K_SEATTYPE, K_HOLDS, K_HOLDINFO, K_SEATVER =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
-- Per-buyer accounting (see inventory.go): counts, the buyer of each hold,
-- and the limits of the event and its ticket types.
local K_BUYERS, K_HOLDBUYER, K_LIMITS = KEYS[11], KEYS[12], KEYS[13]
-- The bookings made with an Idempotency-Key, by buyer and key (inventory.go).
local K_KEYED = KEYS[14]
-- The holds whose sale Redis counts as sold, scored by when (ms): those
-- confirmed in the last SETTLED_MS, and those the last load found committed
-- in Postgres before Redis had confirmed them (see load.lua and confirm.lua).
local K_SETTLED = KEYS[15]
local SETTLED_MS = 600000

-- Answer of any script that finds the event not loaded (meta missing).
local NOT_LOADED = -1
-- Expired holds reclaimed per call on the hot path, to bound its cost.
local LAZY_LIMIT = 100

-- now_ms is Redis server time, so every API instance agrees on expiry.
-- Redis 7 replicates script effects, which makes TIME before writes safe.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- fields splits a holdinfo value: "<nGA>\n(<ticketTypeId>\n<qty>\n)*(<seatId>\n)*"
-- without the trailing newline.
local function fields(info)
  local f = {}
  for s in string.gmatch(info, '[^\n]+') do
    f[#f + 1] = s
  end
  return f
end

-- bump adds delta to a field of the buyers hash, deleting it at zero, so
-- that buyers who hold and own nothing leave no trace.
local function bump(field, delta)
  if redis.call('HINCRBY', K_BUYERS, field, delta) <= 0 then
    redis.call('HDEL', K_BUYERS, field)
  end
end

-- settle ends hold id once: sell moves its tickets and seats to sold,
-- otherwise they return to available. Seats change only where they are still
-- held by this hold (compare-and-set). Returns whether the hold existed.
-- The hold's buyer has one open hold less; released tickets leave the
-- buyer's counts, sold ones stay in them (bought tickets count).
local function settle(id, sell)
  local info = redis.call('HGET', K_HOLDINFO, id)
  redis.call('ZREM', K_HOLDS, id)
  if not info then
    return false
  end
  redis.call('HDEL', K_HOLDINFO, id)
  local f = fields(info)
  local n = tonumber(f[1])
  local buyer = redis.call('HGET', K_HOLDBUYER, id)
  if buyer then
    redis.call('HDEL', K_HOLDBUYER, id)
    bump('o:' .. buyer, -1)
    if not sell then
      local total = 0
      for i = 0, n - 1 do
        local q = tonumber(f[3 + 2 * i])
        bump('y:' .. buyer .. ':' .. f[2 + 2 * i], -q)
        total = total + q
      end
      for j = 2 + 2 * n, #f do
        local tt = redis.call('HGET', K_SEATTYPE, f[j])
        if tt then
          bump('y:' .. buyer .. ':' .. tt, -1)
        end
        total = total + 1
      end
      bump('t:' .. buyer, -total)
    end
  end
  local target, state = K_AVAIL, 'a'
  if sell then
    target, state = K_SOLD, 's'
  end
  for i = 0, n - 1 do
    local tt = f[2 + 2 * i]
    if redis.call('HEXISTS', K_CAP, tt) == 1 then
      redis.call('HINCRBY', target, tt, f[3 + 2 * i])
    end
  end
  local tag = 'h:' .. id
  local changed = false
  for j = 2 + 2 * n, #f do
    local seat = f[j]
    if redis.call('HGET', K_SEATS, seat) == tag then
      redis.call('HSET', K_SEATS, seat, state)
      changed = true
      local tt = redis.call('HGET', K_SEATTYPE, seat)
      if tt then
        redis.call('HINCRBY', target, tt, 1)
      end
    end
  end
  if changed then
    redis.call('INCR', K_SEATVER)
  end
  return true
end

-- seat_version names the state of every seat: the load's time and a counter
-- that every change of a seat increments (it survives reloads).
local function seat_version()
  return redis.call('GET', K_META) .. ':' .. (redis.call('GET', K_SEATVER) or '0')
end

-- reclaim frees up to limit holds whose expiry is before now and returns how
-- many it freed.
local function reclaim(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', K_HOLDS, '-inf', string.format('(%d', now), 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    settle(id, false)
  end
  return #ids
end

-- more is 1 when a lazy reclaim hit its limit, so expired holds may remain.
local function more(reclaimed)
  if reclaimed >= LAZY_LIMIT then
    return 1
  end
  return 0
end
