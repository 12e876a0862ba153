-- Moves one hold from held to sold: GA quantities to sold (available already
-- counts them out), its seats from "h:<holdId>" to "s".
-- ARGV: holdId. Returns {1} confirmed by this call, {2} already counted sold
-- by the load that rebuilt the event after the sale was committed, {0} no
-- such live hold (expired and reclaimed, released, or confirmed before),
-- {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
reclaim(now_ms(), LAZY_LIMIT)
if settle(ARGV[1], true) then
  return {1}
end
if redis.call('SISMEMBER', K_SETTLED, ARGV[1]) == 1 then
  return {2}
end
return {0}
