#!lua flags=allow-cross-slot-keys
-- Max-merges one writer's PN slots of many counters into their records, in one call. The buckets
-- may belong to several cluster slots, all served by the node the call is sent to (the caller
-- groups counters by primary). Redis routes and checks a call by its declared keys, which must
-- share one slot; so only the first bucket is declared (KEYS[1], to route the call) and every
-- bucket is passed as an argument, which allow-cross-slot-keys lets the script use as long as this
-- node serves it. If one is not served here, the script stops with an error there: the merges done
-- before it stay, which is harmless (merges are maxima) and the caller pushes them again.
-- KEYS[1]: the first counter's bucket hash.
-- ARGV[1]: the writer id (8 bytes); then for counter i, ARGV[2i]: its bucket hash, and ARGV[2i+1]:
-- its slot, 29 bytes: the counter's field (9 bytes: post id, code), P and N (8 bytes each,
-- big-endian, < 2^53) and the time of its last write (4 bytes, big-endian, seconds since
-- 2020-01-01). Binary, so that neither side formats or parses decimals.
-- A record is the counter's last write time over all writers (unsigned LEB128 varint, seconds
-- since 2020-01-01), then one entry per writer: 8-byte writer id, then P and N as varints.
-- A writer folded in a bucket (its fence field "\0r"..id there, set by fold-writer.lua) is refused
-- with a RETIRED error, so a folded writer never writes again. Returns how many records changed.
local call, byte, sub, char, unpack_slot = redis.call, string.byte, string.sub, string.char, struct.unpack
local function varint(s, i)
  local b = byte(s, i)
  if b < 128 then
    return b, i + 1
  end
  local v, mul = b - 128, 128
  i = i + 1
  while true do
    b = byte(s, i)
    i = i + 1
    if b < 128 then
      return v + b * mul, i
    end
    v = v + (b - 128) * mul
    mul = mul * 128
  end
end
-- no table per call: values up to 2^28 (every time until 2028, most counts) take one branch
local function encode(v)
  if v < 128 then
    return char(v)
  elseif v < 16384 then
    local a = v % 128
    return char(a + 128, (v - a) / 128)
  elseif v < 2097152 then
    local a = v % 128
    v = (v - a) / 128
    local b = v % 128
    return char(a + 128, b + 128, (v - b) / 128)
  elseif v < 268435456 then
    local a = v % 128
    v = (v - a) / 128
    local b = v % 128
    v = (v - b) / 128
    local c = v % 128
    return char(a + 128, b + 128, c + 128, (v - c) / 128)
  end
  local low = v % 128
  return char(low + 128) .. encode((v - low) / 128)
end
local writer = ARGV[1]
local changed = 0
local fencedIn = {}
-- true when this writer was folded in the bucket: checked only before a writer entry is created,
-- since the fold removes every entry of the writer in the bucket when it fences it there
local function fenced(key)
  local f = fencedIn[key]
  if f == nil then
    f = call('HEXISTS', key, '\0r' .. writer) == 1
    fencedIn[key] = f
  end
  return f
end
local function refuse()
  return redis.error_reply('RETIRED this writer was retired (tally retire-writer): it must not write again')
end
for a = 2, #ARGV, 2 do
  local key, slot = ARGV[a], ARGV[a + 1]
  local field = sub(slot, 1, 9)
  local p, n, t = unpack_slot('>i8>i8>I4', slot, 10)
  local old = call('HGET', key, field)
  if not old then
    if fenced(key) then return refuse() end
    call('HSET', key, field, encode(t) .. writer .. encode(p) .. encode(n))
    changed = changed + 1
  else
    local ot, i = varint(old, 1)
    local newer = t > ot
    if not newer then t = ot end
    local head, len, found = i, #old, false
    while i <= len do
      local start = i
      local op, on
      op, i = varint(old, i + 8)
      on, i = varint(old, i)
      if sub(old, start, start + 7) == writer then
        found = true
        if p > op or n > on or newer then
          if op > p then p = op end
          if on > n then n = on end
          call('HSET', key, field,
            encode(t) .. sub(old, head, start - 1) .. writer .. encode(p) .. encode(n) .. sub(old, i))
          changed = changed + 1
        end
        break
      end
    end
    if not found then
      if fenced(key) then return refuse() end
      call('HSET', key, field, encode(t) .. sub(old, head) .. writer .. encode(p) .. encode(n))
      changed = changed + 1
    end
  end
end
return changed
