-- Read-only: the booking id a buyer's Idempotency-Key named in the event.
-- ARGV: the field of the keyed hash (buyer "\n" key).
-- Returns {1, id} ("" when the key named none), or {-1} not loaded.
if redis.call('EXISTS', K_META) == 0 then
  return {NOT_LOADED}
end
return {1, redis.call('HGET', K_KEYED, ARGV[1]) or ''}
