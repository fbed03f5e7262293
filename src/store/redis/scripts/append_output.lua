-- append_output: appends a batch of chunks to a held run's output, keeping only the tail.
-- ARGV: now, id, token, tail_bytes, then the chunks in the order written, each one its
-- stream's file descriptor as a digit ('1' stdout, '2' stderr) followed by its bytes.
local id, token, tail = ARGV[2], ARGV[3], tonumber(ARGV[4])
local held, status = lease_held(id, token)
if not status then
  return { 'err', 'not_found' }
elseif not held then
  return { 'err', 'lease_lost' }
end
local out = P .. 'output:' .. id
local written = 0
for i = 5, #ARGV do
  if #ARGV[i] > 1 then
    redis.call('RPUSH', out, ARGV[i])
    written = written + #ARGV[i] - 1
  end
end
redis.call('HINCRBY', run_key(id), 'out_total', written)
-- out_kept: the bytes the list holds, tags left out. Whole chunks go from the front
-- while the rest still fills the tail; then the first one kept is cut, so the tail is
-- exactly the last tail_bytes written.
local kept = redis.call('HINCRBY', run_key(id), 'out_kept', written)
if kept > tail then
  while kept > tail do
    local first = redis.call('LINDEX', out, 0)
    if not first then
      kept = 0
      break
    end
    local excess, size = kept - tail, #first - 1
    if size <= excess then
      redis.call('LPOP', out)
      kept = kept - size
    else
      redis.call('LSET', out, 0, string.sub(first, 1, 1) .. string.sub(first, 2 + excess))
      kept = tail
    end
  end
  redis.call('HSET', run_key(id), 'out_kept', kept)
end
return { 'ok' }
