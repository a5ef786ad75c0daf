#!/usr/bin/env bash
# The HTTP floor beside Redis and a node, in one run: what an HTTP request costs on this machine with
# nothing behind it (dev.tally.bench.HttpFloor: a node's own Vert.x server options, one event loop,
# no engine), against Redis INCR/GET and the node's own PUT/GET. Each server is pinned to CPU 0,
# each client to CPU 1, 64 connections, and the servers take turns over ROUNDS rounds:
#   bench/floor.sh [results-dir]          (default bench/results/<date>-floor; ≈ 4 min a round)
# Writes floor.tsv (round, server, workload, client, requests/s, p99 ms) and prints the medians.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" floor "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-floor}"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-10s}
FLOOR_PORT=18182
tsv="$out/floor.tsv"
{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"nproc\":$(nproc),"
  echo "\"cpu\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
  echo "\"java\":\"$("$JAVA" -version 2>&1 | head -1 | tr -d '"')\","
  echo "\"redis\":\"$(redis-server --version | awk '{print $3}')\",\"git\":\"$(git -C "$root" rev-parse --short HEAD)\"}"
} > "$out/machine.json"
printf 'round\tserver\tworkload\tclient\trequests_per_s\tp99_ms\n' > "$tsv"

record() { # round server workload client json
  python3 - "$@" >> "$tsv" <<'PY'
import json, sys
r, server, workload, client, path = sys.argv[1:]
d = json.load(open(path))
lat = [v for k, v in d.items() if k.endswith("_latency")][0]
print("\t".join((r, server, workload, client, str(d["requests_per_s"]), str(lat["p99_ms"]))))
PY
}

load() { # round server workload(write|read) target [protocol args…]
  local r=$1 server=$2 workload=$3 target=$4; shift 4
  local json="$work/$server-$workload.json"
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "$target" --connections "$CONNS" \
    --duration "$DURATION" --warmup "$WARMUP" --workload "$workload" --keys uniform --posts 100000 \
    "$@" --json "$json" >/dev/null 2>&1
  record "$r" "$server" "$workload" tally-bench "$json"
}

for r in $(seq "$ROUNDS"); do
  log "round $r: Redis (no persistence)"
  redis_start --appendonly no
  for t in incr get; do
    rps=$(taskset -c "$CLIENT_CPU" redis-benchmark -p $REDIS_PORT -c "$CONNS" -n 1000000 -r 100000 -t "$t" \
      -P 1 --csv -q | tail -1 | cut -d, -f2 | tr -d '"')
    w=write; [[ $t == get ]] && w=read
    printf '%s\tredis\t%s\tredis-benchmark\t%s\t\n' "$r" "$w" "$rps" >> "$tsv"
  done
  load "$r" redis write 127.0.0.1:$REDIS_PORT --protocol resp --first-post 1
  load "$r" redis read 127.0.0.1:$REDIS_PORT --protocol resp --first-post 1
  redis_stop

  log "round $r: HTTP floor"
  taskset -c "$SERVER_CPU" "$JAVA" -Xms1g -Xmx1g ${TALLY_JAVA_OPTS:-$TALLY_DEFAULT_JAVA_OPTS} -cp "$BENCH_JAR" \
    dev.tally.bench.HttpFloor --port $FLOOR_PORT > "$work/floor.log" 2>&1 & pids+=($!)
  floor_pid=$!
  for _ in $(seq 100); do curl -fs localhost:$FLOOR_PORT/ >/dev/null 2>&1 && break; sleep 0.1; done
  load "$r" floor write 127.0.0.1:$FLOOR_PORT
  load "$r" floor read 127.0.0.1:$FLOOR_PORT
  kill "$floor_pid"; wait "$floor_pid" 2>/dev/null || true

  log "round $r: tally node"
  rm -rf "$work/data"
  tally_start "$work/data"
  load "$r" tally write 127.0.0.1:$TALLY_PORT
  load "$r" tally read 127.0.0.1:$TALLY_PORT
  tally_stop
done

python3 - "$tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(server, workload, client="tally-bench"):
    v = [float(r["requests_per_s"]) for r in rows
         if r["server"] == server and r["workload"] == workload and r["client"] == client]
    return statistics.median(v) if v else float("nan")
print(f"{'':24}{'write':>12}{'read':>12}   (median requests/s of {len(rows) // 8} rounds)")
for name, server, client in (("Redis, redis-benchmark", "redis", "redis-benchmark"),
                             ("Redis, tally-bench", "redis", "tally-bench"),
                             ("HTTP floor", "floor", "tally-bench"),
                             ("tally node", "tally", "tally-bench")):
    print(f"{name:24}{med(server, 'write', client):12,.0f}{med(server, 'read', client):12,.0f}")
for w in ("write", "read"):
    rb = med("redis", w, "redis-benchmark")
    print(f"{w}: floor/redis-benchmark {med('floor', w) / rb:.2f}, node/redis-benchmark "
          f"{med('tally', w) / rb:.2f}, node/floor {med('tally', w) / med('floor', w):.2f}")
PY
