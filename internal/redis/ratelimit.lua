-- Fixed-window counters, checked and counted atomically for several keys at
-- once (per tenant+IP and per tenant+email), so that every API instance
-- shares one count.
-- KEYS[i]: counter keys, all in one hash slot (one tenant's hash tag).
-- ARGV[1]: window in milliseconds; ARGV[i+1]: the limit of KEYS[i].
-- Returns 0 when every counter is within its limit, else the milliseconds
-- until the longest-blocked counter's window ends.
local window = tonumber(ARGV[1])
local retry = 0
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  if n > tonumber(ARGV[i + 1]) and ttl > retry then
    retry = ttl
  end
end
return retry
