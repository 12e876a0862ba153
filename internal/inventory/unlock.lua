-- Releases the rebuild lock only if this caller still owns it.
-- KEYS[1]: lock; ARGV[1]: the owner's token. Returns 1 when deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
