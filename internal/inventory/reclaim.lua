-- Releases holds whose expiry has passed.
-- ARGV: limit. Returns {reclaimed, more}: more=1 when the limit was reached.
-- An event that is not loaded has nothing to reclaim: {0, 0}.
if redis.call('EXISTS', K_META) == 0 then
  return {0, 0}
end
local limit = tonumber(ARGV[1])
local n = reclaim(now_ms(), limit)
local m = 0
if n >= limit then
  m = 1
end
return {n, m}
