-- Holds a whole request all-or-nothing: check every item first, then write.
-- ARGV: holdId, expiresAt (ms), buyer, check ("1": enforce the buyer's
-- limits, "0": only count), maxOpen (open holds a buyer may have in the
-- event, 0: any), keyed, nGA, (ticketTypeId, qty) * nGA, seatId...
-- An empty buyer is not counted or limited. keyed is "" for a booking
-- without an Idempotency-Key, else a mode and the booking's field of the
-- keyed hash (buyer "\n" key): mode "k" answers {4} when the field names
-- this id (made before and no longer held: the booking may exist) and {5}
-- when it names another (the key was used with another request); mode "r"
-- (the caller knows the booking's state) holds regardless. A keyed hold
-- sets its field to its id.
-- Returns {1} held, {2} already held (nothing changed), {-1} not loaded,
-- {4} seen before, {5} key used with another request,
-- {0, more, nTypes, ticketTypeId * nTypes, seatId...} refused: the GA types
-- short of stock and the seats not available; more=1 when expired holds may
-- remain unreclaimed; or {3, limit kind, limit, have, ticketTypeId} refused
-- by a buyer limit: kind "open" (open holds), "event" (tickets of the
-- event) or "type" (tickets of ticketTypeId), with what the buyer has.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local reclaimed = reclaim(now_ms(), LAZY_LIMIT)
local id = ARGV[1]
if redis.call('HEXISTS', K_HOLDINFO, id) == 1 then
  return {2}
end
local buyer, check, maxOpen = ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local mode, field = string.sub(ARGV[6], 1, 1), string.sub(ARGV[6], 2)
if mode == 'k' then
  local prev = redis.call('HGET', K_KEYED, field)
  if prev == id then
    return {4}
  elseif prev then
    return {5}
  end
end

local n = tonumber(ARGV[7])
local badTypes, badSeats = {}, {}
local want, wantTypes, total = {}, {}, 0
local function count(tt, q)
  if not want[tt] then
    want[tt] = 0
    wantTypes[#wantTypes + 1] = tt
  end
  want[tt] = want[tt] + q
  total = total + q
end
for i = 0, n - 1 do
  local tt, qty = ARGV[8 + 2 * i], tonumber(ARGV[9 + 2 * i])
  local avail = redis.call('HGET', K_AVAIL, tt)
  -- Seated types are held by seat only.
  if not avail or redis.call('HGET', K_KIND, tt) ~= 'g' or tonumber(avail) < qty then
    badTypes[#badTypes + 1] = tt
  end
  count(tt, qty)
end
local first = 8 + 2 * n
local seatType = {}
for j = first, #ARGV do
  local seat = ARGV[j]
  local tt = redis.call('HGET', K_SEATTYPE, seat)
  if not tt or redis.call('HGET', K_SEATS, seat) ~= 'a' then
    badSeats[#badSeats + 1] = seat
  else
    seatType[j] = tt
    count(tt, 1)
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

-- The buyer's limits, checked against what the buyer holds and bought, in
-- the same step as the stock: concurrent requests cannot both pass.
if buyer ~= '' and check then
  local function have(field)
    return tonumber(redis.call('HGET', K_BUYERS, field) or '0')
  end
  local open = have('o:' .. buyer)
  if maxOpen > 0 and open >= maxOpen then
    return {3, 'open', maxOpen, open, '', more(reclaimed)}
  end
  for _, tt in ipairs(wantTypes) do
    local limit = redis.call('HGET', K_LIMITS, tt)
    if limit then
      local got = have('y:' .. buyer .. ':' .. tt)
      if got + want[tt] > tonumber(limit) then
        return {3, 'type', tonumber(limit), got, tt, more(reclaimed)}
      end
    end
  end
  local limit = redis.call('HGET', K_LIMITS, '*')
  if limit then
    local got = have('t:' .. buyer)
    if got + total > tonumber(limit) then
      return {3, 'event', tonumber(limit), got, '', more(reclaimed)}
    end
  end
end

for i = 0, n - 1 do
  redis.call('HINCRBY', K_AVAIL, ARGV[8 + 2 * i], -tonumber(ARGV[9 + 2 * i]))
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
redis.call('HSET', K_HOLDINFO, id, table.concat(ARGV, '\n', 7))
if mode ~= '' then
  redis.call('HSET', K_KEYED, field, id)
end
if buyer ~= '' then
  redis.call('HSET', K_HOLDBUYER, id, buyer)
  redis.call('HINCRBY', K_BUYERS, 'o:' .. buyer, 1)
  redis.call('HINCRBY', K_BUYERS, 't:' .. buyer, total)
  for _, tt in ipairs(wantTypes) do
    redis.call('HINCRBY', K_BUYERS, 'y:' .. buyer .. ':' .. tt, want[tt])
  end
end
return {1}
