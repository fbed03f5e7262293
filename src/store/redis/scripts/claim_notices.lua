-- claim_notices: claims for an owner the notices whose claim is free or expired,
-- earliest due first, until now + lease.
-- ARGV: now, owner, lease_ms, limit.
-- Returns {key, job, event, reminder, run, detail, created, sent} per notice.
local owner, lease, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local pending = P .. 'notices'
local claimed = {}
for _, key in ipairs(redis.call('ZRANGEBYSCORE', pending, '-inf', now, 'LIMIT', 0, limit)) do
  local hash = P .. 'notice:' .. key
  local f = redis.call('HMGET', hash, 'job', 'event', 'reminder', 'run', 'detail', 'created', 'sent')
  if not f[1] then
    -- The hash went (a FLUSH of part of the keys): nothing is left to send.
    redis.call('ZREM', pending, key)
  else
    redis.call('HSET', hash, 'owner', owner)
    redis.call('ZADD', pending, now + lease, key)
    claimed[#claimed + 1] = {key, f[1], f[2], f[3], f[4] or '', f[5] or '', f[6], f[7] or ''}
  end
end
return claimed
