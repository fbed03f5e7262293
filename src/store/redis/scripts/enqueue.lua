-- enqueue: records a new run and queues it.
-- ARGV: now, id, job, queue, not_before_ms ('' for none), field, value, ...
-- Returns {'ok'} (the caller knows the run it described), or {'ok', run} when the id
-- exists already: a replay after a reply was lost to a dropped connection.
local id, job, queue, not_before = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', run_key(id)) == 1 then
  return { 'ok', run_record(id) }
end
place(id, queue, create_run(id, job, unpack(ARGV, 6)), not_before ~= '' and not_before)
return { 'ok' }
