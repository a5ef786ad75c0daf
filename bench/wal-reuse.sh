#!/usr/bin/env bash
# Which write-ahead logs a node writes over (a spent log's file, whose syncs write the data alone)
# and which it starts as new files (whose syncs also write the file's size), under keyed single
# PUTs long enough for the counters' first flush at the log bound to spend the first logs:
#   bench/wal-reuse.sh [results-dir]        (default bench/results/<date>-wal-reuse; ≈ 4.5 min)
# Needs a built tree (./mvnw -q -DskipTests package). Environment: LOAD (240s) of single PUTs with
# an Idempotency-Key each, uniform over 100,000 posts, 64 connections; WINDOW_FROM (150, seconds
# into the load) starts the window of the commit figures; ROOT another built checkout (an A/B).
# Reports from RocksDB's own LOG every new log after the first spent group (reused or a new file),
# and over the window the commits' mean duration and writes each (/metrics) and the node's CPU.
set -euo pipefail
root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
source "$root/bench/lib.sh" wal-reuse "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-wal-reuse}"
LOAD=${LOAD:-240s}
WINDOW_FROM=${WINDOW_FROM:-150}
metrics() {
  commit_metrics
  awk '{print "cpu_ticks", $14 + $15}' "/proc/$TALLY_PID/stat"
}
tally_start "$work/data"
log "keyed single PUTs for $LOAD, window from ${WINDOW_FROM}s"
taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target 127.0.0.1:$TALLY_PORT --connections 64 \
  --duration "$LOAD" --warmup 0s --workload write --keys uniform --posts 100000 --idempotency \
  --json "$out/load.json" > /dev/null 2> "$work/load.log" &
load=$!
pids+=($load)
sleep "$WINDOW_FROM"
metrics > "$work/m0"
while kill -0 "$load" 2>/dev/null; do
  metrics > "$work/m1.new" && mv "$work/m1.new" "$work/m1"
  sleep 1
done
wait "$load"
# RocksDB's LOG: when a family's memtable switches to a new log, and whether that log's file was a
# spent one ("reusing log N from recycle list") or a new one; none at all in a load too short to
# end a log
{ grep -E 'New memtable created with log file|reusing log|adding log .* to recycle list' \
  "$work/data/store/LOG" || true; } | sed -E 's/^[0-9/]+-([0-9:.]+) [0-9]+ (\[[^]]*\] )?/\1 /' \
  > "$out/log-events.txt"
tally_stop
python3 - "$work/m0" "$work/m1" "$out" <<'PY'
import json, re, sys
m0, m1, out = sys.argv[1], sys.argv[2], sys.argv[3]
read = lambda f: {l.split()[0]: float(l.split()[1]) for l in open(f)}
a, b = read(m0), read(m1)
d = lambda k: b[k] - a[k]
commits = d("tally_commit_duration_seconds_count")
writes = d("tally_commit_batch_writes_sum")
logs, spent_seen, pending_reuse = [], False, False
for line in open(f"{out}/log-events.txt"):
    if "adding log" in line:
        spent_seen = True
    elif "reusing log" in line:
        pending_reuse = True
    else:
        m = re.search(r"log file: #(\d+)", line)
        if m and (not logs or logs[-1][0] != m.group(1)):
            logs.append((m.group(1), pending_reuse, spent_seen))
            pending_reuse = False
after = [(n, reused) for n, reused, spent in logs if spent]
report = {
    "load": json.load(open(f"{out}/load.json")).get("requests_per_s"),
    "logs_after_first_spent": len(after),
    "reused": sum(1 for _, r in after if r),
    "new_files": [n for n, r in after if not r],
    "window_commits": int(commits),
    "window_commit_mean_us": round(d("tally_commit_duration_seconds_sum") / commits * 1e6, 1),
    "window_writes_per_commit": round(writes / commits, 1),
    "window_node_cpu_us_per_write": round(d("cpu_ticks") * 10_000 / writes, 2),
}
json.dump(report, open(f"{out}/wal-reuse.json", "w"), indent=1)
print(json.dumps(report))
PY
