-- append_output: appends a chunk to a held run's output, keeping only the tail.
-- ARGV: now, id, token, chunk, tail_bytes.
local id, token, chunk, tail = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local held, status = lease_held(id, token)
if not status then
  return { 'err', 'not_found' }
elseif not held then
  return { 'err', 'lease_lost' }
end
local out = P .. 'out:' .. id
if tail == 0 then
  redis.call('DEL', out)
elseif redis.call('APPEND', out, chunk) > tail then
  redis.call('SET', out, redis.call('GETRANGE', out, -tail, -1))
end
redis.call('HINCRBY', run_key(id), 'out_total', #chunk)
return { 'ok' }
