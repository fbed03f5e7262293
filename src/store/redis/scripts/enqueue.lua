-- enqueue: records a new run and queues it; for `concurrency: forbid` (`cronq run`), only
-- when no other run holds its lock or is queued with it, checked in the same step.
-- ARGV: now, id, job, queue, not_before_ms ('' for none), forbid lock ('' for none: no
-- check), field, value, ...
-- Returns {'ok'} (the caller knows the run it described); {'ok', run} when the id
-- exists already: a replay after a reply was lost to a dropped connection; or
-- {'ok', false, holder, 'running' or 'queued'} when the forbid lock is busy, and then
-- nothing is recorded.
local id, job, queue, not_before, forbid = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', run_key(id)) == 1 then
  return { 'ok', run_record(id) }
end
if forbid ~= '' then
  local busy = forbid_busy(forbid, true)
  if busy then
    return { 'ok', false, busy[1], busy[2] }
  end
end
place(id, queue, create_run(id, job, unpack(ARGV, 7)), not_before ~= '' and not_before,
  field_of(ARGV, 7, 'lock_name'), field_of(ARGV, 7, 'lock_on_busy'))
return { 'ok' }
