#!/usr/bin/env bash
# Throughput against latency, tally and Redis side by side, measured by the same client:
#   bench/sweep.sh [results-dir]          (default bench/results/<date>; ≈ 9 min)
# For each series the load generator first finds the closed-loop peak, then offers fixed rates of
# 10 … 95 % of it (latency from each request's intended start, so stalls are not hidden). Series:
# tally PUT increment, Redis INCR (no persistence, and appendfsync always), tally GET, Redis GET;
# 64 connections, uniform keys over posts 1…100000 (so reads find what the writes made).
# Server on CPU 0, client on CPU 1, as in run.sh.
# Writes sweep.tsv (one line per point) and, when gnuplot is installed, sweep.png.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" sweep "${1:-}"
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-5s}
FRACTIONS=${FRACTIONS:-"0.1 0.25 0.5 0.75 0.9 0.95"}

tsv="$out/sweep.tsv"
printf 'series\toffered_per_s\tachieved_per_s\tp50_ms\tp99_ms\tp999_ms\tmax_ms\n' > "$tsv"

point() { # series, port, protocol, workload, rate (0 = closed loop); prints the achieved rate
  local series=$1 port=$2 protocol=$3 workload=$4 rate=$5 json="$work/point.json"
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:"$port" --protocol "$protocol" \
    --connections "$CONNS" --duration "$DURATION" --warmup "$WARMUP" --workload "$workload" \
    --keys uniform --posts 100000 --first-post 1 --rate "$rate" --json "$json" >/dev/null 2>&1
  python3 - "$json" "$series" "$rate" "$workload" >> "$tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lat = d[("write" if sys.argv[4] == "write" else "read") + "_latency"]
print("\t".join(str(x) for x in (sys.argv[2], sys.argv[3], d["requests_per_s"], lat["p50_ms"],
                                  lat["p99_ms"], lat["p999_ms"], lat["max_ms"])))
PY
  tail -1 "$tsv" | cut -f3
}

series() { # name, port, protocol, workload
  local name=$1 port=$2 protocol=$3 workload=$4 peak f
  log "$name: closed-loop peak"
  peak=$(point "$name" "$port" "$protocol" "$workload" 0)
  for f in $FRACTIONS; do
    log "$name: $f of $peak/s"
    point "$name" "$port" "$protocol" "$workload" "$(awk -v p="$peak" -v f="$f" 'BEGIN {printf "%d", p * f}')" >/dev/null
  done
}


redis_start --appendonly no
series "redis-incr" $REDIS_PORT resp write
series "redis-get" $REDIS_PORT resp read
redis_stop
redis_start --appendonly yes --appendfsync always
series "redis-incr-always" $REDIS_PORT resp write
redis_stop

rm -rf "$work/data"
tally_start "$work/data"
series "tally-put" $TALLY_PORT http write
series "tally-get" $TALLY_PORT http read
tally_stop

if command -v gnuplot >/dev/null; then
  # fixed-rate points only: the closed-loop peak has no schedule to be late against
  gnuplot <<GP
set terminal pngcairo size 1100,650 font "sans,11"
set output "$out/sweep.png"
set title "Latency against throughput, 64 connections, uniform keys (server on 1 core, client on another)"
set xlabel "achieved requests/s"
set ylabel "p99 latency, ms (log scale)"
set logscale y
set grid
set key top left
set datafile separator "\t"
plot for [s in "tally-put redis-incr redis-incr-always tally-get redis-get"] \
  "< awk -F'\t' '\$1==\"".s."\" && \$2>0' $tsv" using 3:5 with linespoints lw 2 title s
GP
  log "plot: $out/sweep.png"
else
  log "gnuplot not installed (apt-get install gnuplot-nox): no plot, data in $tsv"
fi
log "done: $tsv"
