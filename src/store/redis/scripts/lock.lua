-- lock: takes `name` for `owner` if it is free, expired or already the owner's.
-- ARGV: now, name, owner, ttl_ms. Returns 1 if taken.
local key, owner = P .. 'lock:' .. ARGV[2], ARGV[3]
local current = redis.call('GET', key)
if current and current ~= owner then
  return 0
end
redis.call('SET', key, owner, 'PX', ARGV[4])
return 1
