-- claim_key: claims an Idempotency-Key, or says what holds it.
-- ARGV: now, key, hold_ms. Returns '' when claimed now; else what the key holds: '-'
-- while its first request is under way, else the id of the run that request queued.
local key = P .. 'idempotency:' .. ARGV[2]
local held = redis.call('GET', key)
if held then
  return held
end
redis.call('SET', key, '-', 'PX', ARGV[3])
return ''
