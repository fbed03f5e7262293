-- fire: claims (job, instant), records the run, queues it or records it skipped, and
-- moves the job's last-fired marker, in one step. A run with a forbid lock is recorded
-- skipped when another run holds that lock (is running).
-- ARGV: now, id, job, instant_ms, claim_ttl_ms, queue, not_before_ms ('' for none),
-- skipped ('1' or '0'), pass_ms ('' for a first pass), forbid lock ('' for none), field,
-- value, ...
-- A second pass (an instant the wall clock shows again after it was stepped back behind
-- pass_ms, the job's last fire then) is claimed under claim:JOB@PASS:INSTANT, no job name
-- holding '@', and leaves the marker where it is.
-- Returns {'ok', 'new', marker, reason}, marker being the job's last-fired instant
-- before this fire (false for none: the caller checks it against what it fired itself,
-- to notice fires a failover lost) and reason why a forbid lock made it skipped (false
-- when it did not); {'ok', false} when another fire claimed the instant; or {'ok', run}
-- for a replay of this very fire (a reply lost to a dropped connection).
local id, job, instant, ttl, queue, not_before, skipped, pass, forbid =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local claim = P .. 'claim:' .. job .. ':' .. instant
if pass ~= '' then
  claim = P .. 'claim:' .. job .. '@' .. pass .. ':' .. instant
end
if not redis.call('SET', claim, id, 'NX', 'PX', ttl) then
  if redis.call('GET', claim) == id then
    return { 'ok', run_record(id) }
  end
  return { 'ok', false }
end
local busy = skipped ~= '1' and forbid ~= '' and forbid_busy(forbid, false)
local seq = create_run(id, job, unpack(ARGV, 11))
local reason = false
if busy then
  reason = busy_reason(job, busy)
  redis.call('HSET', run_key(id), 'status', 'skipped', 'reason', reason, 'finished_at', now)
end
if skipped == '1' or busy then
  index_finished(id, 'skipped')
else
  place(id, queue, seq, not_before ~= '' and not_before, field_of(ARGV, 11, 'lock_name'),
    field_of(ARGV, 11, 'lock_on_busy'))
end
local last = redis.call('HGET', P .. 'fired', job)
if pass == '' and (not last or tonumber(last) < tonumber(instant)) then
  redis.call('HSET', P .. 'fired', job, instant)
end
return { 'ok', 'new', last, reason }
