-- Returns the inventory of one hold (compare-and-delete by hold id).
-- ARGV: holdId. Returns {1} released by this call, {0} unknown, already
-- released or reclaimed, {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
reclaim(now_ms(), LAZY_LIMIT)
if settle(ARGV[1], false) then
  return {1}
end
return {0}
