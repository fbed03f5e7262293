-- reserve: takes the oldest ready run of the first queue that has one and moves it to
-- in-flight with its lease, taking its cluster lock, in one step (a reliable move).
-- ARGV: now, lease_expires_ms, lease_ms, token, worker, host, queue, ...
-- Returns what `reserve_first` does.
return reserve_first(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], { unpack(ARGV, 7) })
