-- add_notice: adds a notice to the outbox unless its key is there (sent or not).
-- ARGV: now, key, job, event, '1' for a reminder, run id ('' for none), detail ('').
-- Returns 1 when added, else 0.
return add_notice(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
