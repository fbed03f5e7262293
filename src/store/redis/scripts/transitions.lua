-- The steps of reserve and finish, as functions, for the scripts that take them:
-- reserve, finish, and finish_and_reserve, which takes both in one step.

-- How many runs of a queue one reserve looks at.
local SCAN = 100

-- The bounds of `store/unreadable.rs`, set in by `scripts.rs`.
local MAX_FIELD_BYTES = tonumber('@MAX_FIELD_BYTES@')
local MAX_PAYLOAD_BYTES = tonumber('@MAX_PAYLOAD_BYTES@')

-- What makes run `key` too large to hand out: {field, bytes, 'field'} for a field over
-- the bound, {'args', bytes, 'payload'} for args and env over theirs; else false. The
-- whole hash is measured first, so a run of the usual size costs one call.
local function oversized(key)
  local usage = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')
  if not usage or usage <= math.min(MAX_FIELD_BYTES, MAX_PAYLOAD_BYTES) then
    return false
  end
  local payload = 0
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local bytes = redis.call('HSTRLEN', key, field)
    if bytes > MAX_FIELD_BYTES then
      return { field, bytes, 'field' }
    elseif field == 'args' or field == 'env' then
      payload = payload + bytes
    end
  end
  if payload > MAX_PAYLOAD_BYTES then
    return { 'args', payload, 'payload' }
  end
  return false
end

-- Takes run `id` (queued, out of `ready`) under the lease.
local function take(id, key, ready, expires, token, worker, host)
  redis.call('ZREM', ready, id)
  redis.call('HSET', key, 'status', 'running', 'started_at', now, 'worker', worker,
    'host', host, 'token', token, 'lease_expires', expires)
  redis.call('ZADD', P .. 'inflight', expires, id)
end

-- The lock is free for `id` (and now taken for lease_ms), or held by another: then its owner.
local function take_lock(id, name, lease_ms)
  local key = P .. 'lock:' .. name
  local owner = redis.call('GET', key)
  if owner and owner ~= id then
    return owner
  end
  redis.call('SET', key, id, 'PX', lease_ms)
  return false
end

-- Takes the oldest ready run of the first of `queues` that has one and moves it to
-- in-flight under the lease (expires, lease_ms, token) for `worker` on `host`, taking its
-- cluster lock, in one step (a reliable move).
-- Returns {'ok', run, id} or {'none', earliest delayed not_before of these queues or
-- false}; or {'oversized', id, field, bytes, 'field' or 'payload'} for a run too large
-- to hand out, taken under the lease but not its lock and not read, for the caller to
-- record failed (`reject.lua`).
local function reserve_first(expires, lease_ms, token, worker, host, queues)
  local earliest = false
  for _, queue in ipairs(queues) do
    local delayed, ready = P .. 'delayed:' .. queue, P .. 'ready:' .. queue
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, SCAN)) do
      redis.call('ZREM', delayed, id)
      local seq = redis.pcall('HGET', run_key(id), 'seq')
      if wrong_type(seq) then
        dead_letter(id, queue)
      elseif seq then
        redis.call('ZADD', ready, seq, id)
      end
    end
    for _, id in ipairs(redis.call('ZRANGE', ready, 0, SCAN - 1)) do
      local key = run_key(id)
      local fields = redis.pcall('HMGET', key, 'status', 'lock_name', 'lock_on_busy', 'forced')
      local dead = wrong_type(fields)
      if dead then
        fields = {}
      end
      local status, name, on_busy, forced = unpack(fields)
      local big = status == 'queued' and oversized(key)
      if dead then
        redis.call('ZREM', ready, id)
        dead_letter(id, queue)
      elseif status ~= 'queued' then
        -- Not a queued run any more (pruned, or changed by hand): not ours to take.
        redis.call('ZREM', ready, id)
      elseif big then
        take(id, key, ready, expires, token, worker, host)
        return { 'oversized', id, big[1], big[2], big[3] }
      else
        local owner = name and take_lock(id, name, lease_ms)
        if name and on_busy == 'skip' then
          -- Taken or skipped now: it holds back no forbid fire as a queued run.
          redis.call('SREM', queued_forbid_key(name), id)
        end
        -- A forced run goes without the lock another run holds.
        if not owner or forced == '1' then
          take(id, key, ready, expires, token, worker, host)
          return { 'ok', run_record(id), id }
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
end

-- Ends held run `id` with `status` and the extra fields (name, value, ...), releases its
-- lock, and queues its next attempt `retry_id` (not before `retry_at`) when it failed
-- with attempts left.
-- Returns {'ok', run, retry or false}, or {'err', 'not_found' or 'lease_lost'}. Sent
-- again after it ended the run, it is refused like any ack without a lease, and changes
-- nothing.
local function finish_held(id, token, status, retry_id, retry_at, extra)
  local held, current = lease_held(id, token)
  if not current then
    return { 'err', 'not_found' }
  elseif not held then
    return { 'err', 'lease_lost' }
  end
  redis.call('ZREM', P .. 'inflight', id)
  end_run(id, status, extra)
  release_lock(id)
  if retries(id, status) then
    queue_retry(id, retry_id, retry_at)
    return { 'ok', run_record(id), run_record(retry_id) }
  end
  return { 'ok', run_record(id), false }
end
