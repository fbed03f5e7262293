-- heartbeat: registers or refreshes a worker and forgets the ones whose time ran out.
-- ARGV: now, worker_id, record_json, expires_ms.
local workers, expiry = P .. 'workers', P .. 'workers:expiry'
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now)) do
  redis.call('HDEL', workers, gone)
end
redis.call('ZREMRANGEBYSCORE', expiry, '-inf', now)
redis.call('HSET', workers, ARGV[2], ARGV[3])
redis.call('ZADD', expiry, ARGV[4], ARGV[2])
return 1
