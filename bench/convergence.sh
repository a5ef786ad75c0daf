#!/usr/bin/env bash
# Two cluster nodes under a uniform write load, a convergence probe between them, and the nodes'
# push, bus and followed-view metrics before and after: where a convergence tail comes from.
#   bench/convergence.sh [push-interval] [results-dir]     (default 25ms, bench/results/<date>-convergence)
# REDIS_CPU (default SERVER_CPU): where the six Redis processes run; the nodes run on SERVER_CPU,
# the load generators and the probe on CLIENT_CPU (bench/lib.sh). 32 connections per node over
# 100,000 posts, 5 s warm-up, 25 s; everything on 127.0.0.1, every process stopped at exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
interval=${1:-25ms}
source "$root/bench/lib.sh" convergence "${2:-$root/bench/results/$(date -u +%Y-%m-%d)-convergence}"
REDIS_CPU=${REDIS_CPU:-$SERVER_CPU}
SERVER_CPU_NODES=$SERVER_CPU
SERVER_CPU=$REDIS_CPU redis_cluster_up "${REDIS_BASE:-17800}"
SERVER_CPU=$SERVER_CPU_NODES
ports=(18301 18302)
node_pids=()
for i in 0 1; do
  TALLY_CLUSTER_PUSH_INTERVAL=$interval taskset -c "$SERVER_CPU" "$JAVA" -Xms1g -Xmx1g $TALLY_DEFAULT_JAVA_OPTS -jar "$TALLY_JAR" \
    --port "${ports[i]}" --host 127.0.0.1 --data-dir "$work/n$i" \
    --redis "127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]}" > "$work/n$i.log" 2>&1 & pids+=($!)
  node_pids+=($!)
done
for p in "${ports[@]}"; do
  for _ in $(seq 300); do curl -fs "localhost:$p/health/ready" >/dev/null && break; sleep 0.1; done
done
metrics() { curl -fs "localhost:$1/metrics" | grep -E '^tally_(live_bus|live_redis|cluster_follow|cluster_push_duration_seconds_(count|sum|max))' || true; }
for i in 0 1; do metrics "${ports[i]}" > "$work/before$i"; done
load_pids=()
for i in 0 1; do
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "127.0.0.1:${ports[i]}" --connections 32 \
    --duration 25s --warmup 5s --workload write --keys uniform --posts 100000 --first-post 1 \
    --seed $((42 + i)) --json "$out/load-n$((i + 1)).json" > /dev/null 2>&1 & pids+=($!)
  load_pids+=($!)
done
sleep 6
taskset -c "$CLIENT_CPU" "$JAVA" -cp "$BENCH_JAR" dev.tally.bench.ConvergenceProbe --from "127.0.0.1:${ports[0]}" \
  --to "127.0.0.1:${ports[1]}" --post 900000001 --warmup 0s --duration 22s --pause 10ms --timeout 5s \
  --json "$out/convergence.json" > /dev/null 2>&1
wait "${load_pids[@]}"
{
  echo "push interval $interval, Redis on CPU $REDIS_CPU, nodes on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
  echo "# convergence"; cat "$out/convergence.json"; echo
  for i in 0 1; do
    echo "# node $((i + 1)): $(grep -o '"requests_per_s":[0-9.]*' "$out/load-n$((i + 1)).json"); metrics that changed"
    metrics "${ports[i]}" | diff "$work/before$i" - | sed -n 's/^> //p' || true
  done
} | tee "$out/summary.txt"
for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
