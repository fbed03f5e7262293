-- read_output: the kept chunks of a run's output that hold bytes from `from` on, so that
-- a follower polling a long job does not fetch the whole tail each time. Read only.
-- ARGV: now, id, from. Returns {'ok', total, chunk...}: `total` bytes written in all, and
-- the chunks (tagged as append_output stores them) that end the output, oldest first.
-- Output written before it kept its streams is one untagged string: {'ok', total, false,
-- string}.
local id, from = ARGV[2], tonumber(ARGV[3])
local run = run_key(id)
if redis.call('EXISTS', run) == 0 then
  return { 'err', 'not_found' }
end
local total = tonumber(redis.call('HGET', run, 'out_total') or '0')
local reply = { 'ok', total }
if total <= from then
  return reply
end
local out = P .. 'output:' .. id
local newest_first, held, at = {}, 0, -1
while total - held > from do
  local chunk = redis.call('LINDEX', out, at)
  if not chunk then
    break
  end
  newest_first[#newest_first + 1] = chunk
  held = held + #chunk - 1
  at = at - 1
end
if #newest_first == 0 then
  local before_streams = redis.call('GET', P .. 'out:' .. id)
  if before_streams then
    reply[3], reply[4] = false, before_streams
  end
  return reply
end
for i = #newest_first, 1, -1 do
  reply[#reply + 1] = newest_first[i]
end
return reply
