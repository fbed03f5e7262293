-- cancel_requests: takes what is on a worker's list of cancel requests and keeps the
-- runs still running on that worker with their cancel requested, each once.
-- ARGV: now, worker, an id already taken from the list by a blocking pop (or '').
-- Returns {id, ...}.
local worker, first = ARGV[2], ARGV[3]
local requests = P .. 'cancels:' .. worker
local taken = {}
if first ~= '' then
  taken[1] = first
end
-- A bounded batch, so the script stays short; the rest waits for the next call.
for _ = 1, 100 do
  local id = redis.call('LPOP', requests)
  if not id then
    break
  end
  taken[#taken + 1] = id
end
local asked, seen = {}, {}
for _, id in ipairs(taken) do
  if not seen[id] then
    seen[id] = true
    local status, on, flag = unpack(redis.call('HMGET', run_key(id), 'status', 'worker', 'cancel_requested'))
    if status == 'running' and on == worker and flag == '1' then
      asked[#asked + 1] = id
    end
  end
end
return asked
