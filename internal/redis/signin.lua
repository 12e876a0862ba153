-- Sign-in throttling that stops guessing without locking the owner out.
-- Only failed sign-ins count. Per organizer:
--   KEYS[1] failures of this email from this address in the short window:
--           past ARGV[3] of them, this address may not try this email again
--           until the window ends (strict);
--   KEYS[2] failures of this email from every address in the long window,
--   KEYS[3] when the last of them happened (ms),
--   KEYS[4] a marker that this address failed for this email in the long
--           window.
-- Past ARGV[4] failures of the email from everywhere, an address that
-- already failed for it waits twice as long after each further failure (1 s,
-- 2 s, 4 s … up to ARGV[5] ms): guessing from many addresses slows down to a
-- crawl, while an address that never failed, the owner's on a new device,
-- is not held back by it.
-- ARGV[1]: "check" or "fail"; ARGV[2]: now (ms); ARGV[6]: the short window
-- (ms); ARGV[7]: the long window (ms).
-- check returns the milliseconds to wait (0: go ahead); fail records one
-- failure and returns 0.
local mode, now = ARGV[1], tonumber(ARGV[2])
local pairMax, emailMax, maxDelay = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local short, long = tonumber(ARGV[6]), tonumber(ARGV[7])

if mode == 'fail' then
  if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], short) end
  if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], long) end
  redis.call('SET', KEYS[3], now, 'PX', long)
  redis.call('SET', KEYS[4], 1, 'PX', long)
  return 0
end

local wait = 0
local pair = tonumber(redis.call('GET', KEYS[1]) or '0')
if pair >= pairMax then
  wait = math.max(redis.call('PTTL', KEYS[1]), 1)
end
local fails = tonumber(redis.call('GET', KEYS[2]) or '0')
if fails >= emailMax and redis.call('EXISTS', KEYS[4]) == 1 then
  local delay = math.min(1000 * 2 ^ math.min(fails - emailMax, 30), maxDelay)
  local last = tonumber(redis.call('GET', KEYS[3]) or '0')
  if last + delay > now then
    wait = math.max(wait, last + delay - now)
  end
end
return wait
