-- Read-only: the ids of holds whose expiry has not passed.
return redis.call('ZRANGEBYSCORE', K_HOLDS, string.format('%d', now_ms()), '+inf')
