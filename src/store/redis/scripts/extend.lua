-- extend: renews a held lease and the run's cluster lock with it.
-- ARGV: now, id, token, lease_expires_ms, lease_ms. Returns {'ok', cancel_requested}.
local id, token, expires, lease_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local held, status = lease_held(id, token)
if not status then
  return { 'err', 'not_found' }
elseif not held then
  return { 'err', 'lease_lost' }
end
local key = run_key(id)
redis.call('HSET', key, 'lease_expires', expires)
redis.call('ZADD', P .. 'inflight', expires, id)
local name = redis.call('HGET', key, 'lock_name')
if name then
  local lock = P .. 'lock:' .. name
  local owner = redis.call('GET', lock)
  if not owner or owner == id then
    redis.call('SET', lock, id, 'PX', lease_ms)
  end
end
return { 'ok', redis.call('HGET', key, 'cancel_requested') }
