-- Moves one hold from held to sold: GA quantities to sold (available already
-- counts them out), its seats from "h:<holdId>" to "s".
-- ARGV: holdId. Returns {1} confirmed by this call, {0} no such live hold
-- (expired and reclaimed, released, or confirmed before), {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
reclaim(now_ms(), LAZY_LIMIT)
if settle(ARGV[1], true) then
  return {1}
end
return {0}
