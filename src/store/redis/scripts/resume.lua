-- resume: ends the pause kept under `key` and, if there was one, changes the pause
-- version. Returns {'ok', pause} with the pause's JSON, or {'ok'} when there was none.
-- ARGV: now, key, version
local key, version = ARGV[2], ARGV[3]
local pause = redis.call('HGET', P .. 'pauses', key)
if not pause then
  return { 'ok' }
end
redis.call('HDEL', P .. 'pauses', key)
redis.call('HDEL', P .. 'pauses:recorded', key)
redis.call('SET', P .. 'pauses:version', version)
return { 'ok', pause }
