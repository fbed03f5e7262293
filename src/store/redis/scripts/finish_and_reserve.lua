-- finish_and_reserve: finish, then reserve without a wait, in one step: the next run of
-- a worker whose run ended, for one round trip instead of two.
-- ARGV: now, id, token, status, retry_id, retry_not_before_ms, lease_expires_ms,
-- lease_ms, next_token, worker, host, n, then n items (field, value, ...), then queue, ...
-- Returns {'ok', run, retry or false, reserve's reply}, or finish's {'err', why} with
-- nothing changed.
local n = tonumber(ARGV[12])
local finished = finish_held(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], { unpack(ARGV, 13, 12 + n) })
if finished[1] ~= 'ok' then
  return finished
end
local next = reserve_first(ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], { unpack(ARGV, 13 + n) })
finished[4] = next
return finished
