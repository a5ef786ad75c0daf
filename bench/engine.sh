#!/usr/bin/env bash
# The write-engine rows of bench/run.sh alone (the same commands), for an A/B of two trees:
#   bench/engine.sh [results-dir]            ROOT=<another checkout, built> bench/engine.sh DIR
# Redis INCR without persistence (redis-benchmark), then single PUTs over 100,000 posts (64
# connections) and durable 1000-item batches over 100,000 and 1,000,000 posts, one node on its
# defaults and an empty data dir. Server on SERVER_CPU, clients on CLIENT_CPU (bench/lib.sh).
set -euo pipefail
root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/bench/lib.sh" engine "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-engine}"
DURATION=${DURATION:-20s}; WARMUP=${WARMUP:-5s}
redis_start --appendonly no
log "redis INCR, $CONNS connections"
taskset -c "$CLIENT_CPU" redis-benchmark -p $REDIS_PORT -c "$CONNS" -n 1000000 -r 100000 -t incr -P 1 --csv -q | tail -1 > "$out/redis-memory-incr.csv"
redis_stop
tally_start "$work/data"
load() { local name=$1; shift; log "tally $name"
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$TALLY_PORT --connections "$CONNS" \
    --duration "$DURATION" --warmup "$WARMUP" "$@" --json "$out/tally-$name.json" 2>/dev/null >/dev/null; }
load write-uniform --workload write --keys uniform --posts 100000
load batch1000-uniform --workload batch --batch-size 1000 --keys uniform --posts 100000 --connections 16
load batch1000-uniform1m --workload batch --batch-size 1000 --keys uniform --posts 1000000 --connections 8
tally_stop
cat "$out/redis-memory-incr.csv"; grep -o '"requests_per_s":[0-9.]*\|"items_per_s":[0-9.]*' "$out"/tally-*.json
