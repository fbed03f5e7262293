-- index_ids: brings `ids` (every run id, score 0, so ordered by id: a short id is a
-- ZRANGEBYLEX) up to date with `history`, a page at a time from the seq `ids:seq` marks
-- as indexed. Runs are recorded without it (`create_run`), so a short id is indexed
-- when one is first looked up; a store written before the mark existed is indexed
-- from its first run, once. Atomic per page, so a run pruned meanwhile is either copied
-- and then removed by the prune, or not copied.
-- ARGV: now, count. Returns how many ids the page held.
local mark = P .. 'ids:seq'
local from = redis.call('GET', mark) or '0'
local page = redis.call('ZRANGEBYSCORE', P .. 'history', '(' .. from, '+inf', 'WITHSCORES',
  'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #page, 2 do
  redis.call('ZADD', P .. 'ids', 0, page[i])
end
if #page > 0 then
  redis.call('SET', mark, page[#page])
end
return #page / 2
