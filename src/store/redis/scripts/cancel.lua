-- cancel: a queued run leaves its queue and is recorded cancelled; a running one gets
-- its cancel requested. ARGV: now, id. Returns {'ok', 'dequeued' | 'requested'}.
local id = ARGV[2]
local key = run_key(id)
local status, queue = unpack(redis.call('HMGET', key, 'status', 'queue'))
if not status then
  return { 'err', 'not_found' }
elseif status == 'queued' then
  redis.call('ZREM', P .. 'ready:' .. queue, id)
  redis.call('ZREM', P .. 'delayed:' .. queue, id)
  end_run(id, 'cancelled', { 'reason', 'cancelled while queued' })
  return { 'ok', 'dequeued' }
elseif status == 'running' then
  redis.call('HSET', key, 'cancel_requested', '1')
  return { 'ok', 'requested' }
end
return { 'err', 'wrong_status', status }
