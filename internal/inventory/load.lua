-- Writes an event's inventory, computed in Go from a Postgres snapshot, all
-- at once, and only if meta is still missing (another loader may have won).
-- KEYS: as in common.lua; the seat version counter (KEYS[10]) is kept, and
-- incremented, so that no two loads name the same seat version.
-- ARGV: metaValue,
--   nTypes, (ticketTypeId, kind "g"|"s", capacity, available, sold) * nTypes,
--   nSeats, (seatId, ticketTypeId, state "a"|"s"|"h:<holdId>") * nSeats,
--   nHolds, (holdId, expiresAt ms, holdinfo, buyer) * nHolds,
--   nBuyerFields, (field, count) * nBuyerFields   (the buyers hash),
--   nLimits, (ticketTypeId | "*", limit) * nLimits (the limits hash),
--   nKeyed, (field, bookingId) * nKeyed (the keyed hash).
--   nSettled, holdId * nSettled (into the settled sorted set, scored metaValue:
--   holds whose sale the snapshot counts as sold but Redis has not confirmed).
-- KEYS[11..15] (buyers, holdbuyer, limits, keyed, settled) are rewritten like the others.
-- KEYS[16] is the rebuild lock and the last ARGV the loader's token: a loader
-- that lost the lock (its TTL ran out, or Redis lost it with the rest) may
-- hold a snapshot older than holds placed since in another loader's keys, so
-- it writes nothing.
-- Returns 1 when written, 0 when meta already existed, -2 when the lock is
-- not the loader's.
if redis.call('GET', KEYS[16]) ~= ARGV[#ARGV] then
  return -2
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
-- Clear what a partial loss (eviction) may have left behind.
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15])

-- Commands take their arguments in chunks: unpack has a stack limit.
local CHUNK = 1000
local function flush(cmd, key, args)
  if #args > 0 then
    redis.call(cmd, key, unpack(args))
  end
end
local function writer(cmd, key)
  local args = {}
  return function(a, b)
    if a == nil then
      flush(cmd, key, args)
      return
    end
    args[#args + 1] = a
    args[#args + 1] = b
    if #args >= 2 * CHUNK then
      flush(cmd, key, args)
      args = {}
    end
  end
end

local kind, cap, avail, sold = writer('HSET', KEYS[2]), writer('HSET', KEYS[3]), writer('HSET', KEYS[4]), writer('HSET', KEYS[5])
local i = 2
local nTypes = tonumber(ARGV[i])
for _ = 1, nTypes do
  local tt = ARGV[i + 1]
  kind(tt, ARGV[i + 2])
  cap(tt, ARGV[i + 3])
  avail(tt, ARGV[i + 4])
  sold(tt, ARGV[i + 5])
  i = i + 5
end
kind()
cap()
avail()
sold()

i = i + 1
local seats, seattype = writer('HSET', KEYS[6]), writer('HSET', KEYS[7])
local nSeats = tonumber(ARGV[i])
for _ = 1, nSeats do
  seats(ARGV[i + 1], ARGV[i + 3])
  seattype(ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
seats()
seattype()

i = i + 1
local holds, holdinfo, holdbuyer = writer('ZADD', KEYS[8]), writer('HSET', KEYS[9]), writer('HSET', KEYS[12])
local nHolds = tonumber(ARGV[i])
for _ = 1, nHolds do
  holds(ARGV[i + 2], ARGV[i + 1])
  holdinfo(ARGV[i + 1], ARGV[i + 3])
  if ARGV[i + 4] ~= '' then
    holdbuyer(ARGV[i + 1], ARGV[i + 4])
  end
  i = i + 4
end
holds()
holdinfo()
holdbuyer()

for _, key in ipairs({KEYS[11], KEYS[13]}) do
  i = i + 1
  local w = writer('HSET', key)
  local nFields = tonumber(ARGV[i])
  for _ = 1, nFields do
    w(ARGV[i + 1], ARGV[i + 2])
    i = i + 2
  end
  w()
end

i = i + 1
local keyed = writer('HSET', KEYS[14])
local nKeyed = tonumber(ARGV[i])
for _ = 1, nKeyed do
  keyed(ARGV[i + 1], ARGV[i + 2])
  i = i + 2
end
keyed()

i = i + 1
local settled = writer('ZADD', KEYS[15])
local nSettled = tonumber(ARGV[i])
for j = 1, nSettled do
  settled(ARGV[1], ARGV[i + j])
end
settled()

redis.call('INCR', KEYS[10])
redis.call('SET', KEYS[1], ARGV[1])
return 1
