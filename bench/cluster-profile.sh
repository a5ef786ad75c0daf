#!/usr/bin/env bash
# Where one node's write CPU goes, standalone or in cluster mode beside a local Redis Cluster:
#   bench/cluster-profile.sh [results-dir]                 (default bench/results/<date>-profile)
#   MODE=standalone|cluster (cluster)  KEYS=uniform|hot|zipf (uniform)  DURATION (15s)  WARMUP (5s)
# Needs a built tree (./mvnw -q -DskipTests package), redis-server and redis-tools. The node and the
# six Redis processes run on SERVER_CPU, the load generator (32 connections, 100,000 posts) on
# CLIENT_CPU. At the end: the load generator's report; the node's CPU per thread name
# (bench/lib.sh's thread_ticks, in clock ticks, over its whole life: start-up included, and
# "(ended)" for threads that ended); the six Redis processes' CPU; each Redis's INFO
# commandstats (calls inside scripts included); the node's group-commit and push-round metrics.
# Everything stays on 127.0.0.1; the load is bounded in time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" profile "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-profile}"
MODE=${MODE:-cluster}
KEYS=${KEYS:-uniform}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-5s}
REDIS_BASE=${REDIS_BASE:-17500}
[[ $MODE == standalone || $MODE == cluster ]] || { log "MODE must be standalone or cluster"; exit 1; }

args=()
if [[ $MODE == cluster ]]; then
  redis_cluster_up "$REDIS_BASE"
  args=(--redis "127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]}")
  redis_ticks; redis_before=$ticks
fi
tally_start "$work/node" "${args[@]}"
log "$MODE node, $KEYS keys, 32 connections, $WARMUP warm-up + $DURATION"
taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "127.0.0.1:$TALLY_PORT" --connections 32 \
  --duration "$DURATION" --warmup "$WARMUP" --workload write --keys "$KEYS" --posts 100000 \
  --first-post 1 --json "$out/load.json" > /dev/null 2> "$work/load.log"

{
  echo "# load"; cat "$out/load.json"; echo
  echo "# node CPU by thread (clock ticks of $(getconf CLK_TCK)/s)"
  thread_ticks "$TALLY_PID" > "$work/threads"
  thread_cpu_diff /dev/null "$work/threads"
  echo "# node metrics"
  curl -fs "localhost:$TALLY_PORT/metrics" |
    grep -E '^tally_(commit_(batch_writes|duration_seconds)_(count|sum)|cluster_push_duration_seconds_(count|sum))' || true
  if [[ $MODE == cluster ]]; then
    redis_ticks
    echo "# Redis CPU, six processes (clock ticks): $((ticks - redis_before))"
    for p in "${redis_ports[@]}"; do
      redis-cli -p "$p" info commandstats | tr -d '\r' | { grep -E '^cmdstat_(evalsha|hset|hget|hexists|spublish)' || true; } | sed "s/^/$p /"
    done
  fi
} | tee "$out/profile.txt"
tally_stop
