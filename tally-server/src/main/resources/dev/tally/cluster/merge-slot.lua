-- Max-merges one writer's PN slot into a counter's hash and keeps the hash's total exact.
-- KEYS[1]: the counter's hash; ARGV[1]: writer field; ARGV[2]: P; ARGV[3]: N (decimal, < 2^53).
-- The writer's value is "P:N", or just "P" when N is 0; field "t" holds sum(P - N) over writers.
-- Returns the counter's total after the merge.
local key, writer = KEYS[1], ARGV[1]
local ps, ns = ARGV[2], ARGV[3]
local p, n = tonumber(ps), tonumber(ns)
local oldp, oldn = 0, 0
local old = redis.call('HGET', key, writer)
if old then
  local colon = string.find(old, ':', 1, true)
  if colon then
    oldp = tonumber(string.sub(old, 1, colon - 1))
    oldn = tonumber(string.sub(old, colon + 1))
  else
    oldp = tonumber(old)
  end
end
if p < oldp then p = oldp; ps = string.format('%.0f', oldp) end
if n < oldn then n = oldn; ns = string.format('%.0f', oldn) end
if p == oldp and n == oldn then
  return tonumber(redis.call('HGET', key, 't') or '0')
end
if n == 0 then
  redis.call('HSET', key, writer, ps)
else
  redis.call('HSET', key, writer, ps .. ':' .. ns)
end
return redis.call('HINCRBY', key, 't', string.format('%.0f', (p - oldp) - (n - oldn)))
