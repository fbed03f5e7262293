-- heartbeat: registers or refreshes a worker or a daemon, and forgets the ones of that
-- registry whose time ran out.
-- ARGV: now, id, record_json, expires_ms, registry ('workers' or 'daemons').
local entries = P .. ARGV[5]
local expiry = entries .. ':expiry'
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now)) do
  redis.call('HDEL', entries, gone)
end
redis.call('ZREMRANGEBYSCORE', expiry, '-inf', now)
redis.call('HSET', entries, ARGV[2], ARGV[3])
redis.call('ZADD', expiry, ARGV[4], ARGV[2])
return 1
