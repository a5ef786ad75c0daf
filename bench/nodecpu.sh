#!/usr/bin/env bash
# Where one node's CPU goes under one load: the node's CPU per request, split by thread, beside its
# group commits (how many, how long, how many writes each) and how busy its core was.
#   bench/nodecpu.sh [results-dir]           (default bench/results/<date>-nodecpu; ≈ 1 min)
# A fresh node on its defaults and an empty data dir (server on SERVER_CPU, client on CLIENT_CPU,
# bench/lib.sh). Environment:
#   LOAD        tally-bench arguments of the HTTP load (default: single PUTs, uniform over 100,000
#               posts: "--workload write --keys uniform --posts 100000"); CONNS connections (64)
#   RESP_P      instead of LOAD, redis-benchmark INCR over the Redis protocol with this pipeline
#               depth (-c CONNS -r 100000 INCR likes:1__rand_int__), RESP_N commands measured
#               (default 1,000,000 at -P 16 and above, 300,000 below), after a pass of a third as many
#   WARMUP (10s, whole seconds), DURATION (20s) of the HTTP load; NODE_ARGS: more flags for the
#               node (split on spaces)
#   ROOT        another built checkout whose jars to run (an A/B: run once per tree, alternated)
# Over the measured window only (not the warm-up): CPU ticks (utime+stime, 10 ms each) of the node,
# by thread name (bench/lib.sh's thread_ticks: compiler threads and threads that ended included, so
# the threads add up to the process's CPU); the server CPUs' busy share
# (/proc/stat); and the node's commit metrics (tally_commit_duration_seconds and
# tally_commit_batch_writes, from /metrics). Writes nodecpu.json and nodecpu.txt (printed).
set -euo pipefail
root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/bench/lib.sh" nodecpu "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-nodecpu}"
LOAD=${LOAD:---workload write --keys uniform --posts 100000}
WARMUP=${WARMUP:-10s}
DURATION=${DURATION:-20s}
RESP_PORT=18182

snapshot() { # file: the node's thread_ticks (bench/lib.sh) in file.threads; "cpu <idle> <total>" per
  # server CPU and "metric <name> <value>" for the commit metrics in file
  thread_ticks "$TALLY_PID" > "$1.threads"
  awk -v cpus=",$SERVER_CPU," '$1 ~ /^cpu[0-9]+$/ && index(cpus, "," substr($1, 4) ",") {
    t = 0; for (i = 2; i <= NF; i++) t += $i; print "cpu", $1, $5 + $6, t }' /proc/stat > "$1"
  commit_metrics | sed 's/^/metric /' >> "$1"
}

# shellcheck disable=SC2086
tally_start "$work/data" ${NODE_ARGS:-} ${RESP_P:+--resp-port $RESP_PORT}
if [[ -n ${RESP_P:-} ]]; then
  n=${RESP_N:-$((RESP_P >= 16 ? 1000000 : 300000))}
  what="redis-benchmark -c $CONNS -P $RESP_P -r 100000 INCR likes:1__rand_int__, $n commands"
  log "$what (after $((n / 3)) to warm up)"
  taskset -c "$CLIENT_CPU" redis-benchmark -p $RESP_PORT -c "$CONNS" -n $((n / 3)) -r 100000 -P "$RESP_P" -q \
    INCR "likes:1__rand_int__" > /dev/null 2>&1
  snapshot "$work/s0"
  start=${EPOCHREALTIME/./}
  taskset -c "$CLIENT_CPU" redis-benchmark -p $RESP_PORT -c "$CONNS" -n "$n" -r 100000 -P "$RESP_P" --csv -q \
    INCR "likes:1__rand_int__" > "$out/redis-benchmark.csv" 2> /dev/null
  snapshot "$work/s1"
  requests=$n
  secs=$(awk -v a="$start" -v b="${EPOCHREALTIME/./}" 'BEGIN {print (b - a) / 1e6}')
  rate=$(tail -1 "$out/redis-benchmark.csv" | cut -d, -f2 | tr -d '"')
else
  what="tally-bench $LOAD, $CONNS connections, $WARMUP warm-up + $DURATION"
  log "$what"
  # shellcheck disable=SC2086
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$TALLY_PORT --connections "$CONNS" \
    --warmup "$WARMUP" --duration "$DURATION" $LOAD --json "$out/load.json" > /dev/null 2> "$work/load.log" &
  load=$!; pids+=($load)
  until grep -q '^load:' "$work/load.log" 2>/dev/null; do
    kill -0 "$load" 2>/dev/null || { cat "$work/load.log" >&2; exit 1; }
    sleep 0.02
  done
  sleep "${WARMUP%s}"
  snapshot "$work/s0"
  start=${EPOCHREALTIME/./}
  wait "$load"
  snapshot "$work/s1"
  requests=$(grep -o '"requests":[0-9]*' "$out/load.json" | head -1 | cut -d: -f2)
  secs=$(awk -v a="$start" -v b="${EPOCHREALTIME/./}" 'BEGIN {print (b - a) / 1e6}')
  rate=$(grep -o '"requests_per_s":[0-9.]*' "$out/load.json" | head -1 | cut -d: -f2)
fi
tally_stop
thread_cpu_diff "$work/s0.threads" "$work/s1.threads" > "$work/by-thread"

python3 - "$work/s0" "$work/s1" "$out" "$requests" "$secs" "$rate" "$what" "$work/by-thread" <<'PY'
import json, sys
s0, s1, out, what = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[7]
requests, secs, rate = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
def read(f):
    cpus, metrics = {}, {}
    for line in open(f):
        kind, *rest = line.split()
        if kind == "cpu":
            cpus[rest[0]] = (int(rest[1]), int(rest[2]))
        elif kind == "metric":
            metrics[rest[0]] = metrics.get(rest[0], 0) + float(rest[1])
    return cpus, metrics
c0, m0 = read(s0)
c1, m1 = read(s1)
us = lambda ticks: ticks * 10_000 / requests  # a tick is 10 ms
by_thread = [(int(t), k) for t, k in (l.split() for l in open(sys.argv[8]))]  # busiest first
node_ticks = sum(t for t, _ in by_thread)
idle = sum(c1[c][0] - c0[c][0] for c in c1); total = sum(c1[c][1] - c0[c][1] for c in c1)
d = lambda k: m1.get(k, 0) - m0.get(k, 0)
commits = d("tally_commit_duration_seconds_count")
report = {
    "load": what, "requests": requests, "seconds": round(secs, 2),
    "requests_per_s": rate,
    "node_cpu_us_per_request": round(us(node_ticks), 2),
    "by_thread_us_per_request": {k: round(us(t), 2) for t, k in by_thread if t > 0},
    "server_cpu_busy": round(1 - idle / total, 3) if total else None,
    "commits_per_s": round(commits / secs, 1),
    "commit_mean_us": round(d("tally_commit_duration_seconds_sum") / commits * 1e6, 1) if commits else None,
    "writes_per_commit": round(d("tally_commit_batch_writes_sum") / d("tally_commit_batch_writes_count"), 1)
        if d("tally_commit_batch_writes_count") else None,
}
json.dump(report, open(f"{out}/nodecpu.json", "w"), indent=1)
lines = [f"{what}",
         f"{rate:,.0f} requests/s (the client's figure); over the {secs:.1f} s window node CPU {report['node_cpu_us_per_request']} µs a request; server CPU {report['server_cpu_busy']:.0%} busy",
         f"commits: {report['commits_per_s']:,.0f}/s, mean {report['commit_mean_us']} µs, {report['writes_per_commit']} writes each",
         "by thread, µs a request:"] + [f"  {v:7.2f}  {k}" for k, v in report["by_thread_us_per_request"].items()]
open(f"{out}/nodecpu.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
