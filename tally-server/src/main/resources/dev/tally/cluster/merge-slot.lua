-- Max-merges one writer's PN slot into a counter's record and returns the counter's total.
-- KEYS[1]: the bucket hash; ARGV[1]: the counter's field (9 bytes: post id, code);
-- ARGV[2]: writer id (8 bytes); ARGV[3]: P; ARGV[4]: N (decimal, < 2^53).
-- A record is one entry per writer: 8-byte writer id, then P and N as unsigned LEB128 varints.
-- The total, sum(P - N) over the entries, is computed here and by readers; it is not stored.
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
  local out = {}
  while v >= 128 do
    local low = v % 128
    out[#out + 1] = string.char(low + 128)
    v = (v - low) / 128
  end
  out[#out + 1] = string.char(v)
  return table.concat(out)
end
local key, field, writer = KEYS[1], ARGV[1], ARGV[2]
local p, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local old = redis.call('HGET', key, field) or ''
local parts, total, found, changed = {}, 0, false, false
local i = 1
while i <= #old do
  local w = string.sub(old, i, i + 7)
  local op, on
  op, i = varint(old, i + 8)
  on, i = varint(old, i)
  if w == writer then
    found = true
    if p > op then op = p; changed = true end
    if n > on then on = n; changed = true end
  end
  parts[#parts + 1] = w .. encode(op) .. encode(on)
  total = total + op - on
end
if not found and (p > 0 or n > 0) then
  parts[#parts + 1] = writer .. encode(p) .. encode(n)
  total = total + p - n
  changed = true
end
if changed then
  redis.call('HSET', key, field, table.concat(parts))
end
return total
