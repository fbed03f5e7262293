-- Shared by every script (prepended to each one): the key layout and the steps that
-- several atomic changes take. KEYS[1] is the prefix itself (it carries the hash tag,
-- so it routes the script to the slot that holds every key built from it).
-- ARGV[1] is always the caller's clock in milliseconds.
local P = KEYS[1]
local now = tonumber(ARGV[1])

local function run_key(id) return P .. 'run:' .. id end

local function run_record(id) return redis.call('HGETALL', run_key(id)) end

-- Tells waiting reservers of `queue` to look again; a few tokens are enough.
local function wake(queue)
  local key = P .. 'wake:' .. queue
  if redis.call('LLEN', key) < 4 then
    redis.call('LPUSH', key, '1')
  end
end

-- Records run `id` of `job` from its fields (name, value, ...) and indexes it by seq;
-- returns its seq. `ids`, the index of short ids, is brought up to date from `history`
-- when a short id is looked up (`index_ids`), which keeps that write off every enqueue.
local function create_run(id, job, ...)
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', run_key(id), 'id', id, 'seq', seq, ...)
  redis.call('ZADD', P .. 'history', seq, id)
  redis.call('ZADD', P .. 'history:' .. job, seq, id)
  return seq
end

-- The value of field `name` in `list`'s fields (name, value, ...) from index `from` on;
-- false when it has none. What a script was given, so no read of the run it records.
local function field_of(list, from, name)
  for i = from, #list - 1, 2 do
    if list[i] == name then
      return list[i + 1]
    end
  end
  return false
end

-- The runs queued with lock `name` and `lock_on_busy` skip (`concurrency: forbid`),
-- which hold back the next forbid fire or run of the job. A run that has left the queue
-- is taken out when it is reserved or cancelled, and by `forbid_busy` in any case.
local function queued_forbid_key(name) return P .. 'queued_forbid:' .. name end

-- `concurrency: forbid`: what keeps a run with lock `name` from being queued now:
-- {owner, 'running'} for the lock's holder, else, with `with_queued`, {id, 'queued'} for
-- the oldest run queued with it; false when neither is.
local function forbid_busy(name, with_queued)
  local owner = redis.call('GET', P .. 'lock:' .. name)
  if owner then
    return { owner, 'running' }
  elseif not with_queued then
    return false
  end
  local key = queued_forbid_key(name)
  local first, first_seq = false, nil
  for _, id in ipairs(redis.call('SMEMBERS', key)) do
    local fields = redis.pcall('HMGET', run_key(id), 'status', 'seq')
    local status, seq = false, nil
    if type(fields) == 'table' and not fields.err then
      status, seq = fields[1], tonumber(fields[2])
    end
    if status ~= 'queued' or not seq then
      redis.call('SREM', key, id)
    elseif not first_seq or seq < first_seq then
      first, first_seq = id, seq
    end
  end
  return first and { first, 'queued' }
end

-- The reason a forbid run found busy is recorded with, as `StoreError::Busy` words it.
local function busy_reason(job, busy)
  return 'skipped: job `' .. job .. '` is ' .. busy[2] .. ' (run ' .. busy[1] .. ')'
end

-- Puts a queued run where reserve finds it: ready now (by seq), or delayed (by not_before,
-- ms, or false for none). `name` and `on_busy` are the run's lock fields (false for none).
local function place(id, queue, seq, not_before, name, on_busy)
  if name and on_busy == 'skip' then
    redis.call('SADD', queued_forbid_key(name), id)
  end
  redis.call('SADD', P .. 'queues', queue)
  if not_before and tonumber(not_before) > now then
    redis.call('ZADD', P .. 'delayed:' .. queue, not_before, id)
  else
    redis.call('ZADD', P .. 'ready:' .. queue, seq, id)
  end
  wake(queue)
end

-- Indexes a run that just finished, for durations and retention: by seq, newest last.
-- A run written by hand may lack either: it is not indexed then.
local function index_finished(id, status)
  local job, seq = unpack(redis.call('HMGET', run_key(id), 'job', 'seq'))
  if not job or not tonumber(seq) then
    return
  elseif status == 'succeeded' then
    redis.call('ZADD', P .. 'done:ok:' .. job, seq, id)
  else
    redis.call('ZADD', P .. 'done:other:' .. job, seq, id)
  end
end

-- Ends a run: status, finished_at, the extra fields, its finished index.
local function end_run(id, status, extra)
  redis.call('HSET', run_key(id), 'status', status, 'finished_at', now, unpack(extra))
  index_finished(id, status)
end

-- Releases the run's cluster lock if the run owns it, and wakes its queue: a run of the
-- same job may be waiting for that lock.
local function release_lock(id)
  local name, queue = unpack(redis.call('HMGET', run_key(id), 'lock_name', 'queue'))
  if name then
    local key = P .. 'lock:' .. name
    if redis.call('GET', key) == id then
      redis.call('DEL', key)
    end
    if queue then
      wake(queue)
    end
  end
end

-- The lease precondition: running, same token, not expired (reap takes it after). Also returns the status
-- (false for no run) and the token the run holds.
local function lease_held(id, token)
  local status, held, expires = unpack(redis.call('HMGET', run_key(id), 'status', 'token', 'lease_expires'))
  return status == 'running' and held == token and tonumber(expires) >= now, status, held
end

-- Queues the next attempt of `id` as run `new_id`, not before `not_before` (ms, or false).
local function queue_retry(id, new_id, not_before)
  local f = redis.call('HMGET', run_key(id), 'job', 'queue', 'attempt', 'max_attempts', 'args',
    'env', 'scheduled_for', 'lock_name', 'lock_on_busy', 'forced', 'by')
  local fields = { 'job', f[1], 'queue', f[2], 'status', 'queued', 'trigger', 'retry',
    'attempt', tonumber(f[3]) + 1, 'max_attempts', f[4], 'retry_of', id,
    'queued_at', now }
  local optional = { 'args', f[5], 'env', f[6], 'scheduled_for', f[7], 'lock_name', f[8],
    'lock_on_busy', f[9], 'forced', f[10], 'not_before', not_before, 'by', f[11] }
  for i = 1, #optional, 2 do
    if optional[i + 1] then
      fields[#fields + 1] = optional[i]
      fields[#fields + 1] = optional[i + 1]
    end
  end
  place(new_id, f[2], create_run(new_id, f[1], unpack(fields)), not_before, f[8], f[9])
  redis.call('HSET', run_key(id), 'retry_id', new_id)
end

-- Whether a run ended this way gets another attempt.
local function retries(id, status)
  if status ~= 'failed' and status ~= 'timed_out' and status ~= 'lost' then
    return false
  end
  local attempt, max = unpack(redis.call('HMGET', run_key(id), 'attempt', 'max_attempts'))
  attempt, max = tonumber(attempt), tonumber(max)
  -- A run written by hand with no number there gets no retry, rather than an error
  -- that would stop every reap.
  return attempt ~= nil and max ~= nil and attempt < max
end


-- A run whose key is not a hash (a string or a list set by hand, or by something else
-- under the prefix) cannot be read, and would make every script that reads it fail:
-- its key is moved aside to `dead:ID`, and run `id` recorded `dead` (a dead letter, kept
-- until someone removes it: no retention prunes it) with the reason. The caller has
-- taken it out of its queue or in-flight.
local function dead_letter(id, queue)
  local key = run_key(id)
  local kind = redis.call('TYPE', key)
  kind = kind.ok or kind
  local aside = P .. 'dead:' .. id
  redis.call('RENAME', key, aside)
  local reason = "dead: the run's key holds a " .. kind .. ', not a hash; it was moved aside to ' .. aside
  create_run(id, '?', 'job', '?', 'queue', queue, 'status', 'dead', 'trigger', 'manual',
    'attempt', 1, 'max_attempts', 1, 'queued_at', now, 'finished_at', now, 'reason', reason)
  redis.call('ZADD', P .. 'dead', now, id)
end

-- Whether a reply of `redis.pcall` is the error of a key of the wrong type.
local function wrong_type(reply)
  return type(reply) == 'table' and reply.err ~= nil and string.find(reply.err, 'WRONGTYPE', 1, true) ~= nil
end
