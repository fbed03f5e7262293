-- unregister: removes a worker from the registry. ARGV: now, worker_id.
redis.call('HDEL', P .. 'workers', ARGV[2])
redis.call('ZREM', P .. 'workers:expiry', ARGV[2])
return 1
