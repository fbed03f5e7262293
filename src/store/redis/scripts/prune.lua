-- prune: deletes the finished runs of several jobs beyond what retention keeps (for
-- each job, the newest `keep` of each kind, by seq, and none queued before its cutoff),
-- with their output and index entries; about `batch` runs in all, so that one call
-- never blocks Redis long. ARGV: now, batch, then per job: job, keep_succeeded,
-- keep_others, cutoff_ms. Returns {deleted, done}: the first `done` jobs are pruned
-- through; call again with the rest.
local left = tonumber(ARGV[2])
local deleted, done = 0, 0
for at = 3, #ARGV, 4 do
  local job, cutoff = ARGV[at], tonumber(ARGV[at + 3])
  local indexes = { { P .. 'done:ok:' .. job, tonumber(ARGV[at + 1]) },
    { P .. 'done:other:' .. job, tonumber(ARGV[at + 2]) } }
  local victims, more = {}, false
  for _, index in ipairs(indexes) do
    local key, keep = index[1], index[2]
    local beyond = redis.call('ZREVRANGE', key, keep, keep + left - 1)
    for _, id in ipairs(beyond) do victims[id] = key end
    -- Too old: from the oldest on, while queued before the cutoff (seq follows time).
    local oldest, all_old = redis.call('ZRANGE', key, 0, left - 1), true
    for _, id in ipairs(oldest) do
      local queued_at = tonumber(redis.call('HGET', run_key(id), 'queued_at'))
      if queued_at and queued_at >= cutoff then
        all_old = false
        break
      end
      victims[id] = key
    end
    if #beyond == left or (all_old and #oldest == left) then
      more = true
    end
  end
  for id, key in pairs(victims) do
    -- out:ID is the single-stream tail written before output kept its streams.
    redis.call('DEL', run_key(id), P .. 'output:' .. id, P .. 'out:' .. id)
    redis.call('ZREM', key, id)
    redis.call('ZREM', P .. 'history', id)
    redis.call('ZREM', P .. 'ids', id)
    redis.call('ZREM', P .. 'history:' .. job, id)
    deleted = deleted + 1
  end
  if more then
    break
  end
  done = done + 1
  left = tonumber(ARGV[2]) - deleted
  if left <= 0 then
    break
  end
end
return { deleted, done }
