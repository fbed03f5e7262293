-- cancel: a queued run leaves its queue and is recorded cancelled; a running one gets
-- its cancel requested, and its id goes on its worker's list of cancel requests, where
-- the worker's listener waits (the list expires when no worker takes from it).
-- ARGV: now, id, requests_ttl_ms. Returns {'ok', 'dequeued' | 'requested'}.
local id = ARGV[2]
local key = run_key(id)
local status, queue, worker, lock_name = unpack(redis.call('HMGET', key, 'status', 'queue',
  'worker', 'lock_name'))
if not status then
  return { 'err', 'not_found' }
elseif status == 'queued' then
  redis.call('ZREM', P .. 'ready:' .. queue, id)
  redis.call('ZREM', P .. 'delayed:' .. queue, id)
  if lock_name then
    redis.call('SREM', queued_forbid_key(lock_name), id)
  end
  end_run(id, 'cancelled', { 'reason', 'cancelled while queued' })
  return { 'ok', 'dequeued' }
elseif status == 'running' then
  redis.call('HSET', key, 'cancel_requested', '1')
  if worker then
    local requests = P .. 'cancels:' .. worker
    redis.call('RPUSH', requests, id)
    redis.call('PEXPIRE', requests, ARGV[3])
  end
  return { 'ok', 'requested' }
end
return { 'err', 'wrong_status', status }
