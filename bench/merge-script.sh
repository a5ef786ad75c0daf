#!/usr/bin/env bash
# Redis CPU of merge-slots.lua alone: one redis-server (no cluster, no replica, no AOF) on
# SERVER_CPU takes 100,000 counters' slots in script calls of 128 counters, four times: a writer's
# first push of each counter, its next push, a second writer's first push, its next push.
#   bench/merge-script.sh [SCRIPT]   (default: the node's merge-slots.lua)
# Prints Redis's CPU (utime+stime from /proc) per phase and per counter, and INFO commandstats.
# Needs redis-server, redis-tools and python3; everything stays on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script=${1:-$root/tally-server/src/main/resources/dev/tally/cluster/merge-slots.lua}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-17690}
if (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT is already in use" >&2; exit 1; fi
work=$(mktemp -d /tmp/tally-merge-script.XXXXXX)
taskset -c "$SERVER_CPU" redis-server --port "$PORT" --bind 127.0.0.1 --dir "$work" --save "" \
  --appendonly no --daemonize no --logfile "$work/redis.log" &
rpid=$!
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill -9 "$rpid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
sha=$(redis-cli -p "$PORT" script load "$(cat "$script")")
ticks() { awk '{print $14 + $15}' "/proc/$rpid/stat"; }
for phase in "AAAAAAAA 0" "AAAAAAAA 10" "BBBBBBBB 3" "BBBBBBBB 20"; do
  read -r writer base <<< "$phase"
  # the calls as RESP: EVALSHA sha 1 <first bucket> <writer> then per counter <bucket> <29-byte slot>
  python3 - "$sha" "$writer" "$base" > "$work/calls.resp" <<'PY'
import struct, sys
sha, writer, base = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
posts, per_call, buckets = 100_000, 128, 1000
def b36(n):
    d, s = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        s, n = d[n % 36] + s, n // 36
        if n == 0:
            return s
def bucket(post):  # as RedisSlots.key: a multiplicative hash, then the bucket number in base 36
    h = (post * 0x9E3779B97F4A7C15) & (2**64 - 1)
    h ^= h >> 29
    if h >= 2**63:
        h -= 2**64
    return ("t:{" + b36(h % buckets) + "}").encode()
def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)
out = sys.stdout.buffer
for start in range(1, posts + 1, per_call):
    batch = range(start, min(posts + 1, start + per_call))
    args = [b"EVALSHA", sha.encode(), b"1", bucket(batch[0]), writer]
    for p in batch:
        slot = struct.pack(">qB", p, 1) + struct.pack(">qqI", base + p % 7, 0, 220_000_000)
        args += [bucket(p), slot]
    out.write(b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args))
PY
  t0=$(ticks)
  taskset -c "$CLIENT_CPU" redis-cli -p "$PORT" --pipe < "$work/calls.resp" > "$work/pipe.log"
  t1=$(ticks)
  awk -v w="$writer" -v b="$base" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "writer %s, P from %s: %d ms of Redis CPU, %.2f us per counter\n", w, b, t * 1000 / hz, t * 1e6 / hz / 100000}'
done
redis-cli -p "$PORT" info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|hget|hset|hexists)'
