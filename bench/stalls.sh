#!/usr/bin/env bash
# Single-increment latency at half the peak rate, and where its tail comes from:
#   bench/stalls.sh [results-dir]          (default bench/results/<date>; ≈ 6 min)
# Cases, each first run closed loop for its peak and then at half of it (fixed rate, latency from
# each request's intended start), with a timeline of the worst latency per 100 ms:
#   tally-disk   tally, data directory on the disk (what run.sh measures)
#   tally-tmpfs  the same node with its data directory on tmpfs: every sync is free, so what is
#                left is tally's own tail (GC, scheduling, queues)
#   redis-always Redis INCR with appendfsync always on the same disk (the durable reference)
#   redis-memory Redis INCR without persistence
# While each half-rate run goes, the server thread that syncs (tally's committer, Redis's main
# thread) is sampled every 50 ms for the state "D" (waiting on the disk). A 100 ms tick whose worst
# latency is over 5 ms counts as disk-bound when that thread was seen in D between the tick's start
# and its worst answer.
# FsyncProbe then measures the disk alone (append + fdatasync at a fixed rate). Writes stalls.tsv
# (one line per case), <case>.timeline.tsv, <case>.disk-waits.tsv and fsync.json.
# Server on CPU 0, client and samplers on CPU 1, as in run.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" stalls "${1:-}"
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-10s}
TMPFS=${TMPFS:-/dev/shm}
CASES=${CASES:-"tally-disk tally-tmpfs redis-always redis-memory"}
wanted() { [[ " $CASES " == *" $1 "* ]]; }

summary="$out/stalls.tsv"
printf 'case\tpeak_per_s\thalf_rate_per_s\tp50_ms\tp99_ms\tp999_ms\tmax_ms\tticks_over_5ms\tof_them_disk_bound\tof_them_in_gc\tlongest_disk_wait_ms\n' > "$summary"

sample_disk_waits() { # stat file of the syncing thread, out: every 50 ms, wall-clock µs and 1 if
  # that thread is in D; bash builtins only, so the sampler hardly competes with the client
  local stat=$1 f=$2 st pause
  exec {pause}<> <(:) # a pipe nobody writes to: "read -t" on it is a sleep without a fork
  while read -r st < "$stat" 2>/dev/null; do
    st=${st##*) }
    printf '%s\t%s\n' "${EPOCHREALTIME/./}" "$([ "${st%% *}" = D ] && echo 1 || echo 0)"
    read -rt 0.05 -u "$pause" || true
  done > "$f"
}

syncing_thread() { # pid, thread name: the /proc stat file of that thread of pid (the first of
  local t comm       # several named so, e.g. tally-committer-0 with --committers above 1)
  for t in /proc/"$1"/task/*; do
    read -r comm < "$t/comm"
    [[ $comm == "$2" || $comm == "$2"-* ]] && { echo "$t/stat"; return 0; }
  done
  echo "/proc/$1/stat" # the main thread
}

run_load() { # port, protocol, rate, json, extra args...
  local port=$1 protocol=$2 rate=$3 json=$4; shift 4
  taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:"$port" --protocol "$protocol" \
    --connections "$CONNS" --duration "$DURATION" --warmup "$WARMUP" --workload write --keys uniform \
    --posts 100000 --rate "$rate" --json "$json" "$@" >/dev/null 2>&1
}

measure() { # case, port, protocol, server pid, name of its thread that syncs
  local name=$1 port=$2 protocol=$3 server=$4 syncer peak half sampler
  log "$name: closed-loop peak"
  run_load "$port" "$protocol" 0 "$out/$name.peak.json"
  peak=$(grep -o '"requests_per_s":[0-9.]*' "$out/$name.peak.json" | cut -d: -f2)
  half=$(awk -v p="$peak" 'BEGIN {printf "%d", p / 2}')
  log "$name: $half/s (half of $peak/s)"
  syncer=$(syncing_thread "$server" "$5")
  taskset -c "$CLIENT_CPU" bash -c "$(declare -f sample_disk_waits); sample_disk_waits $syncer '$out/$name.disk-waits.tsv'" &
  sampler=$!
  run_load "$port" "$protocol" "$half" "$out/$name.json" --timeline "$out/$name.timeline.tsv"
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  python3 - "$out" "$name" "$peak" "$half" >> "$summary" <<'PY'
import datetime, json, os, re, sys
out, name, peak, half = sys.argv[1:]
lat = json.load(open(f"{out}/{name}.json"))["write_latency"]
waits = [(int(t) // 1000, int(n)) for t, n in
         (l.split("\t") for l in open(f"{out}/{name}.disk-waits.tsv") if l.strip())]
in_d = [t for t, n in waits if n > 0]
# the longest stretch of consecutive samples with a thread in D (sampled: ±50 ms)
longest, run, prev = 0, 0, (0, 0)
for t, n in waits:
    run = run + (t - prev[0]) if n > 0 and prev[1] > 0 else 0
    longest, prev = max(longest, run), (t, n)
rows = [l.split("\t") for l in open(f"{out}/{name}.timeline.tsv").read().splitlines()[1:]]
slow = [(int(r[3]), float(r[2])) for r in rows if float(r[2]) > 5]
bound = sum(1 for t, worst in slow if any(t <= d <= t + 100 + worst for d in in_d))
# JVM servers: GC cycles from the log ("[<utc>] GC(n) ... Collection (...)" at start and end)
in_gc = "-"
if os.path.exists(f"{out}/{name}.gc.log"):
    cycles = {}
    for l in open(f"{out}/{name}.gc.log"):
        m = re.match(r"\[(\S+)\]\s*GC\((\d+)\)", l)
        if m and "Collection" in l:
            t = int(datetime.datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
            cycles.setdefault(m[2], [t, t])[1] = t
    in_gc = sum(1 for t, worst in slow
                if any(a <= t + 100 + worst and b >= t for a, b in cycles.values()))
print("\t".join(map(str, (name, peak, half, lat["p50_ms"], lat["p99_ms"], lat["p999_ms"],
                          lat["max_ms"], len(slow), bound, in_gc, longest))))
PY
}

tally_case() { # case, data dir
  local name=$1 data=$2
  rm -rf "$data"
  TALLY_JAVA_EXTRA="${TALLY_JAVA_EXTRA:-} -Xlog:gc:file=$out/$name.gc.log:utctime" tally_start "$data"
  measure "$name" $TALLY_PORT http "$TALLY_PID" tally-committer
  tally_stop
  rm -rf "$data"
}

if wanted tally-disk; then tally_case tally-disk "$work/data"; fi
if wanted tally-tmpfs; then tally_case tally-tmpfs "$TMPFS/tally-stalls-$$"; fi
if wanted redis-always; then
  redis_start --appendonly yes --appendfsync always
  measure redis-always $REDIS_PORT resp "$REDIS_PID" redis-server # the main thread syncs
  redis_stop
fi
if wanted redis-memory; then
  redis_start --appendonly no
  measure redis-memory $REDIS_PORT resp "$REDIS_PID" redis-server
  redis_stop
fi

if wanted tally-disk || wanted redis-always; then
  log "the disk alone: append + fdatasync, 500/s"
  taskset -c "$SERVER_CPU" "$JAVA" -cp "$BENCH_JAR" dev.tally.bench.FsyncProbe --dir "$work" --rate 500 \
    --duration "$DURATION" --json "$out/fsync.json" >/dev/null
  cat "$out/fsync.json" >&2
fi
column -t -s $'\t' "$summary" >&2
log "done: $summary"
