-- Records one node's live viewers of a post and returns the other nodes' fresh shares.
-- KEYS[1]: the post's presence hash; ARGV[1]: this node's field (writer id, hex);
-- ARGV[2]: its viewers now (> 0 records them, 0 removes its share, -1 only reads);
-- ARGV[3]: how long a recorded share counts, in ms.
-- A field's value is "viewers:expiresAtMs", on the Redis server's clock, so nodes' clocks never
-- meet. Expired fields are removed here; the key expires with its last share.
-- Returns {viewers, remainingMs, viewers, remainingMs, ...} of the other nodes' fresh shares.
local key, me = KEYS[1], ARGV[1]
local viewers, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if viewers > 0 then
  redis.call('HSET', key, me, ARGV[2] .. ':' .. string.format('%.0f', now + ttl))
elseif viewers == 0 then
  redis.call('HDEL', key, me)
end
local others = {}
local last = 0
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local value = fields[i + 1]
  local colon = string.find(value, ':', 1, true)
  local expires = colon and tonumber(string.sub(value, colon + 1)) or 0
  if expires <= now then
    redis.call('HDEL', key, fields[i])
  else
    if expires > last then last = expires end
    if fields[i] ~= me then
      others[#others + 1] = tonumber(string.sub(value, 1, colon - 1))
      others[#others + 1] = expires - now
    end
  end
end
if last > 0 then
  redis.call('PEXPIREAT', key, string.format('%.0f', last))
end
return others
