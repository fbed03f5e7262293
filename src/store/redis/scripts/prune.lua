-- prune: deletes a batch of a job's finished runs beyond what retention keeps (the newest
-- `keep` of each kind, by seq, and none queued before the cutoff), with their output and
-- index entries. ARGV: now, job, keep_succeeded, keep_others, cutoff_ms, batch.
-- Returns {deleted, more}: more is 1 when a full batch was found (call again).
local job, cutoff, batch = ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local indexes = { { P .. 'done:ok:' .. job, tonumber(ARGV[3]) },
  { P .. 'done:other:' .. job, tonumber(ARGV[4]) } }
local victims, more = {}, 0
for _, index in ipairs(indexes) do
  local key, keep = index[1], index[2]
  local beyond = redis.call('ZREVRANGE', key, keep, keep + batch - 1)
  for _, id in ipairs(beyond) do victims[id] = key end
  -- Too old: from the oldest on, while queued before the cutoff (seq follows time).
  local oldest, all_old = redis.call('ZRANGE', key, 0, batch - 1), true
  for _, id in ipairs(oldest) do
    local queued_at = tonumber(redis.call('HGET', run_key(id), 'queued_at'))
    if queued_at and queued_at >= cutoff then
      all_old = false
      break
    end
    victims[id] = key
  end
  if #beyond == batch or (all_old and #oldest == batch) then
    more = 1
  end
end
local deleted = 0
for id, key in pairs(victims) do
  -- out:ID is the single-stream tail written before output kept its streams.
  redis.call('DEL', run_key(id), P .. 'output:' .. id, P .. 'out:' .. id)
  redis.call('ZREM', key, id)
  redis.call('ZREM', P .. 'history', id)
  redis.call('ZREM', P .. 'history:' .. job, id)
  deleted = deleted + 1
end
return { deleted, more }
