-- reap: turns running runs whose lease expired into lost, releases their locks and
-- queues their next attempts at once. Taking each one out of in-flight in this script is
-- what makes it happen once however many reapers run.
-- ARGV: now, reason, new_id, ... (one fresh id per run it may reap: the batch size).
-- Returns {how many expired entries it took, {run made lost, ...}}.
local reason = ARGV[2]
local lost = {}
local expired = redis.call('ZRANGEBYSCORE', P .. 'inflight', '-inf', '(' .. ARGV[1], 'LIMIT', 0, #ARGV - 2)
for i, id in ipairs(expired) do
  redis.call('ZREM', P .. 'inflight', id)
  local status = redis.pcall('HGET', run_key(id), 'status')
  if wrong_type(status) then
    dead_letter(id, '?')
  elseif status == 'running' then
    end_run(id, 'lost', { 'reason', reason })
    release_lock(id)
    if retries(id, 'lost') then
      queue_retry(id, ARGV[2 + i], false)
    end
    lost[#lost + 1] = run_record(id)
  end
end
return { #expired, lost }
