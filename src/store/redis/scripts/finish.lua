-- finish: ends a held run with its outcome, releases its lock, and queues its next
-- attempt when it failed with attempts left.
-- ARGV: now, id, token, status, retry_id, retry_not_before_ms, field, value, ...
-- Returns {'ok', run, retry or false}. Sent again after it ended the run, it is refused
-- like any ack without a lease, and changes nothing.
local id, token, status, retry_id, retry_at = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local held, current = lease_held(id, token)
if not current then
  return { 'err', 'not_found' }
elseif not held then
  return { 'err', 'lease_lost' }
end
redis.call('ZREM', P .. 'inflight', id)
end_run(id, status, { unpack(ARGV, 7) })
release_lock(id)
if retries(id, status) then
  queue_retry(id, retry_id, retry_at)
  return { 'ok', run_record(id), run_record(retry_id) }
end
return { 'ok', run_record(id), false }
