-- Reclaims expired holds, then returns the stock of every ticket type:
-- {1, more, HGETALL cap, HGETALL avail, HGETALL sold}, or {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local m = more(reclaim(now_ms(), LAZY_LIMIT))
return {1, m, redis.call('HGETALL', K_CAP), redis.call('HGETALL', K_AVAIL), redis.call('HGETALL', K_SOLD)}
