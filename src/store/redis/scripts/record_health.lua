-- record_health: records how a run of a job ended for the job's health and returns the
-- message that calls for, as `Health::after` in Rust does it.
-- ARGV: now, job, run id, '1' when it failed (else '0'), remind_ms ('' for none).
-- Returns 'failing', 'reminder' or 'recovered', or '' for no message.
local key = P .. 'health:' .. ARGV[2]
local run, failed, remind = ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local state = redis.call('HMGET', key, 'failing', 'notified_at', 'last_run')
if state[3] == run then
  return ''
end
local failing = state[1] == '1'
local notified_at = tonumber(state[2]) or 0
local change = ''
if failed and not failing then
  change = 'failing'
elseif failed and remind and now - notified_at >= remind then
  change = 'reminder'
elseif not failed and failing then
  change = 'recovered'
end
if change == 'failing' or change == 'reminder' then
  notified_at = now
end
redis.call('HSET', key, 'failing', failed and '1' or '0', 'notified_at', notified_at, 'last_run', run)
return change
