#!lua flags=no-writes,allow-cross-slot-keys
-- Reads the records of many counters in one call, as many HGETs would. The buckets may belong to
-- several cluster slots, all served by the node the call is sent to (the caller groups counters by
-- primary); as in merge-slots.lua only the first bucket is declared (KEYS[1], to route the call),
-- and a bucket not served here stops the call with an error, which the caller answers by reading
-- those counters one command each.
-- KEYS[1]: the first counter's bucket hash.
-- ARGV[2i-1], ARGV[2i]: counter i's bucket hash and field.
-- Returns each counter's record, or nil where there is none, in the order asked.
local call, out = redis.call, {}
for a = 1, #ARGV, 2 do
  out[#out + 1] = call('HGET', ARGV[a], ARGV[a + 1])
end
return out
