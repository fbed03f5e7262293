-- pass_paused: an instant of a job held back by the pause under `key`. Moves the job's
-- last-fired marker as a fire does; while the pause has recorded fewer than `limit`
-- instants (or is gone: it was just resumed), also claims the instant and records the
-- run skipped, as fire does, and counts it on the pause.
-- ARGV: now, id, job, instant_ms, claim_ttl_ms, key, limit, field, value, ...
-- Returns {'ok', 'new'} for a run recorded, {'ok', false} for none (past the limit, or
-- the instant was claimed already), or {'ok', run} for a replay of this very call.
local id, job, instant, ttl, key, limit =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local function move_marker()
  local last = redis.call('HGET', P .. 'fired', job)
  if not last or tonumber(last) < tonumber(instant) then
    redis.call('HSET', P .. 'fired', job, instant)
  end
end
local paused = redis.call('HEXISTS', P .. 'pauses', key) == 1
local recorded = tonumber(redis.call('HGET', P .. 'pauses:recorded', key) or '0')
if paused and recorded >= limit then
  move_marker()
  return { 'ok', false }
end
local claim = P .. 'claim:' .. job .. ':' .. instant
if not redis.call('SET', claim, id, 'NX', 'PX', ttl) then
  if redis.call('GET', claim) == id then
    return { 'ok', run_record(id) }
  end
  move_marker()
  return { 'ok', false }
end
create_run(id, job, unpack(ARGV, 8))
index_finished(id, 'skipped')
if paused then
  redis.call('HINCRBY', P .. 'pauses:recorded', key, 1)
end
move_marker()
return { 'ok', 'new' }
