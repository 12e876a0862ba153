-- Reclaims expired holds, then returns every seat's state and the version it
-- is at: {1, more, HGETALL seats, version}, or {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local m = more(reclaim(now_ms(), LAZY_LIMIT))
return {1, m, redis.call('HGETALL', K_SEATS), seat_version()}
