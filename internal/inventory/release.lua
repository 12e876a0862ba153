-- Returns the inventory of one hold (compare-and-delete by hold id).
-- ARGV: holdId [, keyed field]. With a field of the keyed hash that names
-- this hold, the field goes too: the booking was not written, and its key
-- names nothing. Returns {1} released by this call, {0} unknown, already
-- released or reclaimed, {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
reclaim(now_ms(), LAZY_LIMIT)
if ARGV[2] and redis.call('HGET', K_KEYED, ARGV[2]) == ARGV[1] then
  redis.call('HDEL', K_KEYED, ARGV[2])
end
if settle(ARGV[1], false) then
  return {1}
end
return {0}
