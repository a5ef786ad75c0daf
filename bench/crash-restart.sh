#!/usr/bin/env bash
# How long a node takes to be ready again after a kill -9 under writes spread over many counters
# (the write-ahead log since the last flush is replayed first):
#   bench/crash-restart.sh [results-dir]     (default bench/results/<date>-crash-restart; ≈ 1 min)
# Needs a built tree (./mvnw -q -DskipTests package). Environment: POSTS (1000000), LOAD (40s) of
# durable 1000-item batches over POSTS posts from 8 connections; SERVER_CPU/CLIENT_CPU (lib.sh).
# Reports the load's rate, the log's size at the kill and the time from exec to /health/ready.
set -euo pipefail
root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/bench/lib.sh" crash-restart "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-crash-restart}"
POSTS=${POSTS:-1000000}
LOAD=${LOAD:-40s}
tally_start "$work/data"
log "durable 1000-item batches over $POSTS posts for $LOAD"
taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$TALLY_PORT --connections 8 \
  --duration "$LOAD" --warmup 1s --workload batch --batch-size 1000 --keys uniform --posts "$POSTS" \
  --json "$out/load.json" > /dev/null 2> "$work/load.log"
wal_mib=$(du -cm "$work"/data/store/*.log 2>/dev/null | awk 'END {print $1}')
kill -9 "$TALLY_PID"
wait "$TALLY_PID" 2>/dev/null || true
t0=$(date +%s%N)
TALLY_READY_WAIT=60 tally_start "$work/data"
t1=$(date +%s%N)
rate=$(grep -o '"items_per_s":[0-9.]*' "$out/load.json" | cut -d: -f2)
echo "{\"items_per_s\":$rate,\"wal_mib_at_kill\":$wal_mib,\"restart_ms\":$(((t1 - t0) / 1000000))}" |
  tee "$out/crash-restart.json"
tally_stop
