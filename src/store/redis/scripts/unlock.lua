-- unlock: compare-and-delete: only the owner releases its lock.
-- ARGV: now, name, owner. Returns 1 if released.
local key = P .. 'lock:' .. ARGV[2]
if redis.call('GET', key) ~= ARGV[3] then
  return 0
end
redis.call('DEL', key)
return 1
