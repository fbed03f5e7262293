-- reserve: takes the oldest ready run of the first queue that has one and moves it to
-- in-flight with its lease, taking its cluster lock, in one step (a reliable move).
-- ARGV: now, lease_expires_ms, lease_ms, token, worker, host, queue, ...
-- Returns {'ok', run} or {'none', earliest delayed not_before of these queues or false}.
local expires, lease_ms, token, worker, host = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local SCAN = 100
local earliest = false

-- The lock is free for `id` (and now taken), or held by another: then its owner.
local function take_lock(id, name)
  local key = P .. 'lock:' .. name
  local owner = redis.call('GET', key)
  if owner and owner ~= id then
    return owner
  end
  redis.call('SET', key, id, 'PX', lease_ms)
  return false
end

for i = 7, #ARGV do
  local queue = ARGV[i]
  local delayed, ready = P .. 'delayed:' .. queue, P .. 'ready:' .. queue
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, SCAN)) do
    redis.call('ZREM', delayed, id)
    local seq = redis.call('HGET', run_key(id), 'seq')
    if seq then
      redis.call('ZADD', ready, seq, id)
    end
  end
  for _, id in ipairs(redis.call('ZRANGE', ready, 0, SCAN - 1)) do
    local key = run_key(id)
    local status, name, on_busy = unpack(redis.call('HMGET', key, 'status', 'lock_name', 'lock_on_busy'))
    if status ~= 'queued' then
      -- Not a queued run any more (pruned, or changed by hand): not ours to take.
      redis.call('ZREM', ready, id)
    else
      local owner = name and take_lock(id, name)
      if not owner then
        redis.call('ZREM', ready, id)
        redis.call('HSET', key, 'status', 'running', 'started_at', now, 'worker', worker,
          'host', host, 'token', token, 'lease_expires', expires)
        redis.call('ZADD', P .. 'inflight', expires, id)
        return { 'ok', run_record(id) }
      elseif on_busy == 'skip' then
        redis.call('ZREM', ready, id)
        end_run(id, 'skipped', { 'reason', 'skipped: lock `' .. name .. '` is held by run ' .. owner })
      end
      -- on_busy == 'wait': it stays queued; look at the next one.
    end
  end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] and (not earliest or tonumber(first[2]) < earliest) then
    earliest = tonumber(first[2])
  end
end
return { 'none', earliest }
