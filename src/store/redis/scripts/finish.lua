-- finish: ends a held run with its outcome, releases its lock, and queues its next
-- attempt when it failed with attempts left.
-- ARGV: now, id, token, status, retry_id, retry_not_before_ms, field, value, ...
-- Returns {'ok', run, retry or false}, or {'err', why}.
return finish_held(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], { unpack(ARGV, 7) })
