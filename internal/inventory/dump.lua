-- Read-only: every key of the event in one consistent view, for Verify:
-- {meta exists, kind, cap, avail, sold, seats, seattype (each HGETALL),
--  holds (ZRANGE WITHSCORES), holdinfo, buyers, holdbuyer, limits (HGETALL)}.
return {
  redis.call('EXISTS', K_META),
  redis.call('HGETALL', K_KIND),
  redis.call('HGETALL', K_CAP),
  redis.call('HGETALL', K_AVAIL),
  redis.call('HGETALL', K_SOLD),
  redis.call('HGETALL', K_SEATS),
  redis.call('HGETALL', K_SEATTYPE),
  redis.call('ZRANGE', K_HOLDS, 0, -1, 'WITHSCORES'),
  redis.call('HGETALL', K_HOLDINFO),
  redis.call('HGETALL', K_BUYERS),
  redis.call('HGETALL', K_HOLDBUYER),
  redis.call('HGETALL', K_LIMITS),
}
