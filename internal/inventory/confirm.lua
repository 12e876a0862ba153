-- Moves one hold from held to sold: GA quantities to sold (available already
-- counts them out), its seats from "h:<holdId>" to "s", and notes it in the
-- settled set for SETTLED_MS.
-- ARGV: holdId. Returns {1} confirmed by this call, {2} counted sold already
-- (confirmed before, or by the load that rebuilt the event after the sale
-- was committed), {0} no such live hold and no sale of it counted (expired
-- and reclaimed, released, or lost with Redis's data), {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
local now = now_ms()
reclaim(now, LAZY_LIMIT)
if settle(ARGV[1], true) then
  redis.call('ZADD', K_SETTLED, now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', K_SETTLED, '-inf', now - SETTLED_MS)
  return {1}
end
if redis.call('ZSCORE', K_SETTLED, ARGV[1]) then
  return {2}
end
return {0}
