#!lua flags=allow-cross-slot-keys
-- Max-merges one writer's PN slots of many counters into their records, in one call. The buckets
-- may belong to several cluster slots, all served by the node the call is sent to (the caller
-- groups counters by primary). Redis routes and checks a call by its declared keys, which must
-- share one slot; so only the first bucket is declared (KEYS[1], to route the call) and every
-- bucket is passed as an argument, which allow-cross-slot-keys lets the script use as long as this
-- node serves it. If one is not served here, the script stops with an error there: the merges done
-- before it stay, which is harmless (merges are maxima) and the caller pushes them again.
-- KEYS[1]: the first counter's bucket hash.
-- ARGV[1]: the writer id (8 bytes); then for counter i, ARGV[5i-3 .. 5i+1]: its bucket hash, its
-- field (9 bytes: post id, code), P, N (decimal, < 2^53) and the time of its last write (seconds
-- since 2020-01-01, decimal).
-- A record is the counter's last write time over all writers (unsigned LEB128 varint, seconds
-- since 2020-01-01), then one entry per writer: 8-byte writer id, then P and N as varints.
-- Returns how many records changed.
local function varint(s, i)
  local v, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    i = i + 1
    if b < 128 then
      return v + b * mul, i
    end
    v = v + (b - 128) * mul
    mul = mul * 128
  end
end
local function encode(v)
  local out = ''
  while v >= 128 do
    local low = v % 128
    out = out .. string.char(low + 128)
    v = (v - low) / 128
  end
  return out .. string.char(v)
end
local writer = ARGV[1]
local changed = 0
for k = 1, (#ARGV - 1) / 5 do
  local key, field = ARGV[5 * k - 3], ARGV[5 * k - 2]
  local p, n, t = tonumber(ARGV[5 * k - 1]), tonumber(ARGV[5 * k]), tonumber(ARGV[5 * k + 1])
  local old = redis.call('HGET', key, field)
  if not old then
    redis.call('HSET', key, field, encode(t) .. writer .. encode(p) .. encode(n))
    changed = changed + 1
  else
    local ot, i = varint(old, 1)
    local newer = t > ot
    if not newer then t = ot end
    local head = i
    local found = false
    while i <= #old do
      local start = i
      local w = string.sub(old, i, i + 7)
      local op, on
      op, i = varint(old, i + 8)
      on, i = varint(old, i)
      if w == writer then
        found = true
        if p > op or n > on or newer then
          if op > p then p = op end
          if on > n then n = on end
          redis.call('HSET', key, field,
            encode(t) .. string.sub(old, head, start - 1) .. writer .. encode(p) .. encode(n)
              .. string.sub(old, i))
          changed = changed + 1
        end
        break
      end
    end
    if not found then
      redis.call('HSET', key, field, encode(t) .. string.sub(old, head) .. writer .. encode(p) .. encode(n))
      changed = changed + 1
    end
  end
end
return changed
