-- renew_lock: compare-and-renew: only the owner extends its lock.
-- ARGV: now, name, owner, ttl_ms. Returns 1 if renewed.
local key = P .. 'lock:' .. ARGV[2]
if redis.call('GET', key) ~= ARGV[3] then
  return 0
end
redis.call('PEXPIRE', key, ARGV[4])
return 1
