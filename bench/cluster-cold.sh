#!/usr/bin/env bash
# A cluster member restarted under reads: how fast its followed view fills and what it serves
# meanwhile.
#   bench/cluster-cold.sh [results-dir]              (default bench/results/<date>-cluster-cold)
#   DURATION (20s) of the reads; ROOT: another built checkout whose jars to run (an A/B)
# One node on a local 6-process Redis Cluster (bench/lib.sh; node and Redis on SERVER_CPU, the load
# generator on CLIENT_CPU) writes single PUTs over 100,000 posts for 10 s; it is stopped and started
# again on the same data directory (its view empty, its own counts on disk), and at once takes
# uniform single GETs over the same posts on 32 connections. Every second: the counters it follows
# and has read from Redis (tally_cluster_follow_loads_total). Prints the reads' rate over the
# window, the seconds until 99 % of the posts were followed, the node's CPU by thread and the six
# Redis processes' CPU over the window. Writes cold.txt and follow.tsv. Everything stays on
# 127.0.0.1; the loads are bounded in time.
set -euo pipefail
root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/bench/lib.sh" cluster-cold "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-cluster-cold}"
DURATION=${DURATION:-20s}
REDIS_BASE=${REDIS_BASE:-17600}
POSTS=100000

redis_cluster_up "$REDIS_BASE"
seeds="127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]}"
tally_start "$work/node" --redis "$seeds"
log "writes: single PUTs over $POSTS posts, 32 connections, 10 s"
taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "127.0.0.1:$TALLY_PORT" --connections 32 \
  --duration 10s --warmup 1s --workload write --keys uniform --posts $POSTS --first-post 1 \
  > /dev/null 2> "$work/write.log"
tally_stop
tally_start "$work/node" --redis "$seeds"
log "restarted; reads: single GETs over the same posts, 32 connections, $DURATION"
thread_ticks "$TALLY_PID" > "$work/threads0"
redis_ticks; redis_before=$ticks
taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "127.0.0.1:$TALLY_PORT" --connections 32 \
  --duration "$DURATION" --warmup 0s --workload read --keys uniform --posts $POSTS --first-post 1 \
  --json "$out/load.json" > /dev/null 2> "$work/read.log" &
load=$!; pids+=($load)
start=${EPOCHREALTIME/./}
: > "$out/follow.tsv"
while kill -0 "$load" 2>/dev/null; do
  f=$(curl -fs "localhost:$TALLY_PORT/metrics" | awk '/^tally_cluster_follow_loads_total/ {print $2}') || true
  echo -e "$(awk -v a="$start" -v b="${EPOCHREALTIME/./}" 'BEGIN {printf "%.1f", (b - a) / 1e6}')\t${f:-}" >> "$out/follow.tsv"
  sleep 1
done
wait "$load" || { cat "$work/read.log" >&2; exit 1; }
thread_ticks "$TALLY_PID" > "$work/threads1"
redis_ticks; redis_cpu=$((ticks - redis_before))
tally_stop

rate=$(grep -o '"requests_per_s":[0-9.]*' "$out/load.json" | head -1 | cut -d: -f2)
full=$(awk -v n=$((POSTS * 99 / 100)) '$2 >= n {print $1; exit}' "$out/follow.tsv")
{
  echo "reads after the restart: $rate/s over $DURATION (the load generator's figure)"
  if [[ -n $full ]]; then
    echo "99 % of the $POSTS posts followed after $full s"
  else
    echo "99 % of the $POSTS posts followed: not within the window"
  fi
  echo "followed at the end: $(tail -1 "$out/follow.tsv" | cut -f2)"
  echo "Redis CPU over the window, six processes: $redis_cpu ticks of $(getconf CLK_TCK)/s"
  echo "node CPU by thread over the window (ticks):"
  thread_cpu_diff "$work/threads0" "$work/threads1" | head -8
  echo "git $(git -C "$root" rev-parse --short HEAD)"
} | tee "$out/cold.txt"
