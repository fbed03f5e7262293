-- set_progress: records a running run's progress and message.
-- ARGV: now, id, percent, has_message ('1' or '0'), message.
local id, percent, has_message, message = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = run_key(id)
local status = redis.call('HGET', key, 'status')
if not status then
  return { 'err', 'not_found' }
elseif status ~= 'running' then
  return { 'err', 'wrong_status', status }
end
redis.call('HSET', key, 'progress', percent)
if has_message == '1' then
  redis.call('HSET', key, 'message', message)
else
  redis.call('HDEL', key, 'message')
end
return { 'ok' }
