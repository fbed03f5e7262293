-- The outbox's one shared step (put in front of the scripts that add notices): the hash
-- `P notice:KEY` holds a notice, and `P notices` the keys not yet sent, each scored
-- with when it may be claimed (now at first; a claim's expiry once claimed).
local function add_notice(key, job, event, reminder, run, detail)
  local hash = P .. 'notice:' .. key
  if redis.call('EXISTS', hash) == 1 then
    return 0
  end
  redis.call('HSET', hash, 'job', job, 'event', event, 'reminder', reminder,
    'run', run, 'detail', detail, 'created', now, 'sent', '')
  redis.call('ZADD', P .. 'notices', now, key)
  return 1
end
