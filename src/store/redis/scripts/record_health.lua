-- record_health: records how a run of a job ended for the job's health, or (no run)
-- looks whether a reminder is due, and returns the message that calls for, as
-- `Health::after` in Rust does it; the message goes into the outbox in the same step,
-- under the key `HealthChange::notice` gives it.
-- ARGV: now, job, run id ('' for the timer's look), '1' when it failed (else '0'),
-- remind_ms ('' for none).
-- Returns 'failing', 'reminder' or 'recovered', or '' for no message.
local job = ARGV[2]
local key = P .. 'health:' .. job
local run, failed, remind = ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local state = redis.call('HMGET', key, 'failing', 'notified_at', 'last_run')
local failing = state[1] == '1'
local notified_at = tonumber(state[2]) or 0
local remind_due = remind and now - notified_at >= remind
local change = ''
if run == '' then
  if not (failing and remind_due) then
    return ''
  end
  change = 'reminder'
  redis.call('HSET', key, 'notified_at', now)
else
  if state[3] == run then
    return ''
  end
  if failed and not failing then
    change = 'failing'
  elseif failed and remind_due then
    change = 'reminder'
  elseif not failed and failing then
    change = 'recovered'
  end
  if change == 'failing' or change == 'reminder' then
    notified_at = now
  end
  redis.call('HSET', key, 'failing', failed and '1' or '0', 'notified_at', notified_at, 'last_run', run)
end
if change ~= '' then
  local about = run ~= '' and run or (state[3] or '')
  local event = change == 'recovered' and 'recovered' or 'failing'
  local tail = run ~= '' and run or ('@' .. now)
  add_notice('health:' .. job .. ':' .. change .. ':' .. tail, job, event,
    change == 'reminder' and '1' or '0', about, '')
end
return change
