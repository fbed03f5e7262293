-- pause: keeps a pause of one job (or of every job, key `*`) in place of any before it,
-- starts its count of recorded instants over, and changes the pause version.
-- ARGV: now, key, pause (JSON), version
local key, pause, version = ARGV[2], ARGV[3], ARGV[4]
redis.call('HSET', P .. 'pauses', key, pause)
redis.call('HDEL', P .. 'pauses:recorded', key)
redis.call('SET', P .. 'pauses:version', version)
return { 'ok' }
