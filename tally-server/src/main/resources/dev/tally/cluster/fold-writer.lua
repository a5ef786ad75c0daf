-- Folds a retired writer's slots of every counter of one bucket into the bucket's base entry, and
-- fences the writer off that bucket, atomically.
-- KEYS[1]: the bucket hash; ARGV[1]: the retired writer's id (8 bytes); ARGV[2]: the base entry's
-- id (8 zero bytes).
-- Records are as merge-slots.lua writes them: a time varint, then per writer its 8-byte id and its
-- P and N as varints. The base entry holds the sum of the P and of the N of every writer folded
-- into it, so each record's total stays the same. A fence field per folded writer ("\0r" and its
-- id: 10 bytes, where counters' fields have 9; the value empty) marks the buckets where it was
-- folded: merge-slots.lua refuses its pushes there, so a folded share never comes back beside the
-- base. A bucket where the writer has no share is left alone: a later push of that writer there
-- carries increments never folded, and counting them is right. Running it again for the same
-- writer finds nothing to fold. Returns how many records changed.
local call, byte, sub, char = redis.call, string.byte, string.sub, string.char
local FENCE = '\0r' -- a fence field: these two bytes, then the writer id (10 bytes; counters' are 9)
-- (a script cannot load another: the record codec below repeats merge-slots.lua's)
local function varint(s, i)
  local v, mul = 0, 1
  while true do
    local b = byte(s, i)
    i = i + 1
    if b < 128 then
      return v + b * mul, i
    end
    v = v + (b - 128) * mul
    mul = mul * 128
  end
end
local function encode(v)
  local out, n = {}, 0
  while v >= 128 do
    local low = v % 128
    n = n + 1
    out[n] = low + 128
    v = (v - low) / 128
  end
  out[n + 1] = v
  return char(unpack(out))
end
local key, writer, base = KEYS[1], ARGV[1], ARGV[2]
local fields = call('HGETALL', key)
local changed = 0
local flat = {}
for f = 1, #fields, 2 do
  local field, old = fields[f], fields[f + 1]
  if #field == 10 and sub(field, 1, 2) == FENCE then
    flat[#flat + 1] = field
    flat[#flat + 1] = old
  else
    local t, i = varint(old, 1)
    local entries, wp, wn, found = {}, 0, 0, false
    local bp, bn = 0, 0
    while i <= #old do
      local w = sub(old, i, i + 7)
      local p, n
      p, i = varint(old, i + 8)
      n, i = varint(old, i)
      if w == writer then
        found, wp, wn = true, p, n
      elseif w == base then
        bp, bn = p, n
      else
        entries[#entries + 1] = w .. encode(p) .. encode(n)
      end
    end
    if found then
      old = encode(t) .. base .. encode(bp + wp) .. encode(bn + wn) .. table.concat(entries)
      changed = changed + 1
    end
    flat[#flat + 1] = field
    flat[#flat + 1] = old
  end
end
if changed > 0 then
  if call('HEXISTS', key, FENCE .. writer) == 0 then
    flat[#flat + 1] = FENCE .. writer
    flat[#flat + 1] = ''
  end
  -- written anew rather than field by field: a hash Redis turned into a hashtable while many
  -- writers made its records long becomes a compact listpack again once they are folded
  call('DEL', key)
  call('HSET', key, unpack(flat))
end
return changed
