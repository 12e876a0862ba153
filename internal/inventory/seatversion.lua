-- Reclaims expired holds, then returns the version of the seats' state:
-- {1, more, version}, or {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local m = more(reclaim(now_ms(), LAZY_LIMIT))
return {1, m, seat_version()}
