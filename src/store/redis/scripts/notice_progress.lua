-- notice_progress: renews an owner's claim on a notice, notes a target that took it,
-- and with done marks it sent: out of `P notices`, kept as a marker for keep_ms.
-- ARGV: now, key, owner, target ('' for none), '1' when done, lease_ms, keep_ms.
-- Returns 1, or 0 when the claim is not the owner's or the notice is sent.
local key, owner, target = ARGV[2], ARGV[3], ARGV[4]
local done, lease, keep = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7])
local hash = P .. 'notice:' .. key
local pending = P .. 'notices'
if redis.call('HGET', hash, 'owner') ~= owner or not redis.call('ZSCORE', pending, key) then
  return 0
end
if target ~= '' then
  local sent = redis.call('HGET', hash, 'sent') or ''
  local known = false
  for n in string.gmatch(sent, '[^,]+') do
    if n == target then known = true end
  end
  if not known then
    redis.call('HSET', hash, 'sent', sent == '' and target or (sent .. ',' .. target))
  end
end
if done then
  redis.call('ZREM', pending, key)
  redis.call('HSET', hash, 'done', now)
  redis.call('PEXPIRE', hash, keep)
else
  redis.call('ZADD', pending, now + lease, key)
end
return 1
