-- Holds a whole request all-or-nothing: check every item first, then write.
-- ARGV: holdId, expiresAt (ms), nGA, (ticketTypeId, qty) * nGA, seatId...
-- Returns {1} held, {2} already held (nothing changed), {-1} not loaded, or
-- {0, more, nTypes, ticketTypeId * nTypes, seatId...} refused: the GA types
-- short of stock and the seats not available; more=1 when expired holds may
-- remain unreclaimed.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local reclaimed = reclaim(now_ms(), LAZY_LIMIT)
local id = ARGV[1]
if redis.call('HEXISTS', K_HOLDINFO, id) == 1 then
  return {2}
end

local n = tonumber(ARGV[3])
local badTypes, badSeats = {}, {}
for i = 0, n - 1 do
  local tt, qty = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  local avail = redis.call('HGET', K_AVAIL, tt)
  -- Seated types are held by seat only.
  if not avail or redis.call('HGET', K_KIND, tt) ~= 'g' or tonumber(avail) < qty then
    badTypes[#badTypes + 1] = tt
  end
end
local first = 4 + 2 * n
local seatType = {}
for j = first, #ARGV do
  local seat = ARGV[j]
  local tt = redis.call('HGET', K_SEATTYPE, seat)
  if not tt or redis.call('HGET', K_SEATS, seat) ~= 'a' then
    badSeats[#badSeats + 1] = seat
  else
    seatType[j] = tt
  end
end
if #badTypes > 0 or #badSeats > 0 then
  local out = {0, more(reclaimed), #badTypes}
  for _, tt in ipairs(badTypes) do
    out[#out + 1] = tt
  end
  for _, seat in ipairs(badSeats) do
    out[#out + 1] = seat
  end
  return out
end

for i = 0, n - 1 do
  redis.call('HINCRBY', K_AVAIL, ARGV[4 + 2 * i], -tonumber(ARGV[5 + 2 * i]))
end
local tag = 'h:' .. id
for j = first, #ARGV do
  redis.call('HSET', K_SEATS, ARGV[j], tag)
  redis.call('HINCRBY', K_AVAIL, seatType[j], -1)
end
if first <= #ARGV then
  redis.call('INCR', K_SEATVER)
end
redis.call('ZADD', K_HOLDS, ARGV[2], id)
redis.call('HSET', K_HOLDINFO, id, table.concat(ARGV, '\n', 3))
return {1}
