#!/usr/bin/env bash
# Runs every benchmark behind BENCHMARKS.md in one go, with the Redis references in the same run:
#   bench/run.sh [results-dir]          (default bench/results/<date>)
# Server processes are pinned to CPU 0 and load generators to CPU 1 (taskset), so server and client
# never share a core. Needs: redis-server, redis-tools, a built tree (./mvnw -DskipTests package).
# Everything talks to 127.0.0.1 only; every load is bounded in time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" bench "${1:-}"
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-15s}

{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"nproc\":$(nproc),"
  echo "\"cpu\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
  echo "\"mem_gib\":$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),"
  echo "\"kernel\":\"$(uname -r)\",\"java\":\"$("$JAVA" -version 2>&1 | head -1 | tr -d '"')\","
  echo "\"redis\":\"$(redis-server --version | awk '{print $3}')\",\"git\":\"$(git -C "$root" rev-parse --short HEAD)\"}"
} > "$out/machine.json"

# ---------------------------------------------------------------- Redis references
redis_run() { # name, extra redis args...
  local name=$1; shift
  local dir="$work/redis-$name"; mkdir -p "$dir"
  taskset -c "$SERVER_CPU" redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$dir" --save "" "$@" \
    --daemonize no --logfile "$dir/log" & pids+=($!)
  for _ in $(seq 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
  for t in incr get; do
    log "redis ($name) $t, $CONNS connections"
    taskset -c "$CLIENT_CPU" redis-benchmark -p $REDIS_PORT -c "$CONNS" -n 1000000 -r 100000 -t "$t" -P 1 --csv -q \
      | tail -1 > "$out/redis-$name-$t.csv"
  done
  # the same server driven by tally's own load generator (RESP): same client, same accounting
  for w in write read; do
    log "redis ($name) $w via tally-bench, $CONNS connections"
    taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$REDIS_PORT --protocol resp \
      --connections "$CONNS" --duration "$DURATION" --warmup 5s --workload "$w" --keys uniform \
      --posts 100000 --first-post 1 --json "$out/redis-$name-resp-$w.json" >/dev/null 2>&1
  done
  redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
}
redis_run memory --appendonly no
redis_run everysec --appendonly yes --appendfsync everysec
redis_run always --appendonly yes --appendfsync always

# ---------------------------------------------------------------- tally over HTTP
load() { # name, args...
  local name=$1; shift
  log "tally $name"
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$TALLY_PORT --connections "$CONNS" \
    --duration "$DURATION" --warmup "$WARMUP" "$@" --json "$out/tally-$name.json" 2>/dev/null >/dev/null
}

tally_start "$work/data" ${TALLY_ARGS:-}
load write-uniform --workload write --keys uniform --posts 100000
load write-hot --workload write --keys hot
load write-zipf --workload write --keys zipf --posts 100000
load read-uniform --workload read --keys uniform --posts 100000
load mix-zipf --workload mix --keys zipf --posts 100000 --reads-per-write 10
load write-uniform-keys --workload write --keys uniform --posts 100000 --idempotency
for k in hot zipf uniform; do
  load batch100-$k --workload batch --batch-size 100 --keys $k --posts 100000
  load batch1000-$k --workload batch --batch-size 1000 --keys $k --posts 100000 --connections 16
done
peak=$(grep -o '"requests_per_s":[0-9.]*' "$out/tally-write-uniform.json" | cut -d: -f2)
half=$(awk -v p="$peak" 'BEGIN {printf "%d", p / 2}')
load write-uniform-half-rate --workload write --keys uniform --posts 100000 --rate "$half"
curl -s localhost:$TALLY_PORT/metrics > "$out/tally-metrics.txt"
tally_stop

# ---------------------------------------------------------------- storage and restart
POSTS=${FILL_POSTS:-5000000}
log "filling $((POSTS * 2)) counters"
"$JAVA" --enable-native-access=ALL-UNNAMED -cp "$BENCH_JAR" dev.tally.bench.StoreFill --data-dir "$work/fill" --posts "$POSTS" \
  2>/dev/null > "$out/storage.json"
log "restart on $((POSTS * 2)) counters"
t0=$(date +%s%N)
tally_start "$work/fill"
t1=$(date +%s%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$TALLY_PID/status)
echo "{\"counters\":$((POSTS * 2)),\"ready_ms\":$(( (t1 - t0) / 1000000 )),\"rss_kib\":$rss}" > "$out/restart.json"
tally_stop

# ---------------------------------------------------------------- JMH (engine and store)
if [[ ${SKIP_JMH:-0} != 1 ]]; then
  log "JMH"
  taskset -c "$SERVER_CPU" "$JAVA" -cp "$BENCH_JAR" org.openjdk.jmh.Main -rf json -rff "$out/jmh.json" \
    -wi 2 -w 2s -i 3 -r 2s -p committers=1 AggregatorBenchmark StoreBenchmark > "$out/jmh.txt" 2>&1
fi
log "done: $out"
