-- reject: records a held run that cannot be read (`store/unreadable.rs`) failed, with
-- the reason, no retry and its lock released, and makes the fields named readable: the
-- listed ones deleted, the pairs set. The lease precondition is finish's.
-- ARGV: now, id, token, reason, n, then n fields to delete, then field, value, ...
-- Returns {'ok'} or {'err', 'not_found' or 'lease_lost'}.
local id, token = ARGV[2], ARGV[3]
local held, current = lease_held(id, token)
if not current then
  return { 'err', 'not_found' }
elseif not held then
  return { 'err', 'lease_lost' }
end
redis.call('ZREM', P .. 'inflight', id)
-- Before the lock's fields may go.
release_lock(id)
local n = tonumber(ARGV[5])
if n > 0 then
  redis.call('HDEL', run_key(id), unpack(ARGV, 6, 5 + n))
end
if #ARGV > 5 + n then
  redis.call('HSET', run_key(id), unpack(ARGV, 6 + n))
end
end_run(id, 'failed', { 'reason', ARGV[4] })
return { 'ok' }
