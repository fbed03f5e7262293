-- index_ids: copies a page of the history into `ids`, the run ids ordered by id, for a
-- store whose runs were recorded before that index existed. Atomic per page, so a run
-- pruned meanwhile is either copied and then removed by the prune, or not copied.
-- ARGV: now, start, count. Returns how many ids the page held.
local ids = redis.call('ZRANGE', P .. 'history', ARGV[2], tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZADD', P .. 'ids', 0, id)
end
return #ids
