#!/usr/bin/env bash
# How long a node takes to restore its counters in Redis after Redis lost them (FLUSHALL):
#   bench/repush.sh [results-dir]          (default bench/results/<date>-repush)
# Needs a built tree (./mvnw -q -DskipTests package), redis-server and redis-tools (redis-cli).
# Environment: COUNTERS (1000000) distinct counters on the node; REDIS_BASE (17400: Redis on
# 17400-17405, bus ports +10000); REDIS_BUCKETS (empty: the node's default, --redis-buckets);
# FILL_CONNS (4) concurrent batch writes of the fill; FILL_TIMEOUT (900), DRAIN_TIMEOUT (600) and
# REPUSH_TIMEOUT (600) bound the fill, the push of the filled counters and the re-push, in seconds;
# SERVER_CPU/CLIENT_CPU (lib.sh), TALLY_JAVA_OPTS/TALLY_JAVA_EXTRA (as tally_start).
#
# Steps:
#   cluster  a local Redis Cluster (deploy/redis-cluster.sh: 3 primaries + 3 replicas, appendonly
#            everysec) and one node on it (--redis), waited for until it pushes (reachable, no
#            re-push running)
#   fill     dev.tally.bench.Filler: one increment on each of COUNTERS posts (1..COUNTERS, counter
#            likes), batch writes of 1000; then waits until the node's backlog is 0 and Redis
#            holds keys. Keys on the primaries are counted by kind (bucket hashes t:{…}, epoch
#            markers, the layout key, others), and the six Redis processes' idle CPU is taken over
#            3 s (the node idle but checking its fingerprint every second)
#   flush    FLUSHALL sent to every primary at once (one open connection each), the time and the
#            Redis CPU (utime+stime, /proc/<pid>/stat, all six processes) noted as the last reply
#            arrives. Then /health/ready is read every 100 ms (and /metrics every second) until
#            the node noticed ("repushing":true, or tally_cluster_repushes_total grew) and then
#            until it is done (no "repushing", backlog 0, repushes_total grown); each reading is a
#            line of repush-timeline.tsv. While it re-pushes, the node shows "repushing":true with
#            a backlog of 0 (the backlog counts outbox marks, which a flush does not create):
#            progress shows only in tally_cluster_pushed_counters_total
#   verify   the keys counted again (bucket hashes must be as many as before the flush); a second
#            node with an empty data dir joins the cluster and reads 1000 random posts of the fill
#            in one batch read: it has no counts of its own, so what it answers is what Redis holds
#            (the filling node's own answer comes from its local store and would be right even
#            with Redis empty; it is read too)
#
# Times: detection is from the flush to the node's log line "pushing every counter again", the
# re-push from that line to "every counter pushed again" (the log has milliseconds); restored is
# flush to that last line. The 100 ms readings give the same spans to ±0.1 s (poll_*). Redis CPU
# runs from the flush to the first reading that shows the re-push done, so it holds up to 100 ms of
# idle time and the detection delay; redis_idle_cpu_ms_per_s says how much that is. node_cpu_s is
# the node's CPU over the same window (answering the readings included). The Redis CPU includes
# the live bus: the node publishes every slot it pushed, re-pushed ones too (bus_slots_published).
#
# Pinning, as in cluster.sh: the node and the six Redis processes on SERVER_CPU, the fill, the
# readings and the second node on CLIENT_CPU. So the re-push runs on one core shared by the node
# and Redis; SERVER_CPU=0,1 CLIENT_CPU=0,1 unpins.
#
# Checks (repush.json "checks"; the exit status is 0 only when all hold): as many bucket hashes
# after as before, the 1000 posts read 1 on both nodes, one full re-push, every counter pushed.
# The total key count is not compared: the layout key (tally:layout) is written when a node
# connects, so after a flush it stays missing until some node connects again.
#
# Results: machine.json, fill.json (Filler), keys-before.json and keys-after.json (keys by kind,
# summed over the primaries), repush-timeline.tsv, verify.json, node-log.txt (the node's log),
# repush.json (everything above in one object) and repush-summary.txt (one line, printed at the
# end). Uses ports 18193-18194 for the nodes. Everything talks to 127.0.0.1 only; every wait is
# bounded in time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" repush "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-repush}"
COUNTERS=${COUNTERS:-1000000}
REDIS_BASE=${REDIS_BASE:-17400}
REDIS_BUCKETS=${REDIS_BUCKETS:-}
FILL_CONNS=${FILL_CONNS:-4}
FILL_TIMEOUT=${FILL_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
REPUSH_TIMEOUT=${REPUSH_TIMEOUT:-600}
NODE_PORT=18193
READER_PORT=18194
SAMPLE=1000
CLK_TCK=$(getconf CLK_TCK)
node_pid="" reader_pid="" started=""
ticks=0

[[ $COUNTERS =~ ^[0-9]+$ ]] && ((COUNTERS >= 1)) || { log "COUNTERS must be a positive number"; exit 1; }
((REDIS_BASE <= 6379 && 6379 <= REDIS_BASE + 5)) && { log "REDIS_BASE must keep clear of port 6379"; exit 1; }

trap 'redis_cluster_down; cleanup' EXIT
trap 'exit 130' INT TERM

{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"nproc\":$(nproc),"
  echo "\"cpu\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
  echo "\"java\":\"$("$JAVA" -version 2>&1 | head -1 | tr -d '"')\",\"clk_tck\":$CLK_TCK,"
  echo "\"counters\":$COUNTERS,\"redis_buckets\":\"${REDIS_BUCKETS:-default}\",\"fill_connections\":$FILL_CONNS,"
  echo "\"server_cpu\":\"$SERVER_CPU\",\"client_cpu\":\"$CLIENT_CPU\","
  echo "\"redis\":\"$(redis-server --version | awk '{print $3}')\",\"git\":\"$(git -C "$root" rev-parse --short HEAD)\"}"
} > "$out/machine.json"

# ---------------------------------------------------------------- helpers
now_us() { echo "${EPOCHREALTIME/./}"; }
secs() { awk -v d="$1" 'BEGIN {printf "%.3f", d / 1e6}'; } # µs -> s
count_keys() { # file: the keys on the primaries by kind, as JSON
  local p
  for p in "${primary_ports[@]}"; do
    echo "dbsize $(redis-cli -p "$p" dbsize)"
    timeout 120 redis-cli -p "$p" --scan
  done | awk '
    $1 == "dbsize" && NF == 2 {dbsize += $2; next}
    /^t:\{/ {buckets++; next}
    /^tally:epoch:/ {markers++; next}
    $0 == "tally:layout" {layout++; next}
    {other++}
    END {printf "{\"dbsize\":%d,\"bucket_keys\":%d,\"epoch_markers\":%d,\"layout_key\":%d,\"other_keys\":%d}\n",
         dbsize, buckets, markers, layout, other}' > "$1"
}
key_field() { grep -o "\"$2\":[0-9]*" "$1" | cut -d: -f2; } # file, field

node_start() { # port, data dir, cpu, heap, extra tally args…: starts a node and waits until it is ready
  local port=$1 data=$2 cpu=$3 heap=$4 pid deadline; shift 4
  if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then log "port $port is already in use"; exit 1; fi
  # shellcheck disable=SC2086
  taskset -c "$cpu" "$JAVA" "-Xms$heap" "-Xmx$heap" ${TALLY_JAVA_OPTS:-$TALLY_DEFAULT_JAVA_OPTS} ${TALLY_JAVA_EXTRA:-} \
    -jar "$TALLY_JAR" --port "$port" --host 127.0.0.1 --data-dir "$data" "$@" > "$data.log" 2>&1 & pids+=($!)
  pid=$!
  deadline=$(($(now_us) + 90000000))
  while (($(now_us) < deadline)); do
    curl -fs "localhost:$port/health/ready" >/dev/null 2>&1 && { started=$pid; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "the node on port $port did not start within 90 s; see $data.log"; tail -20 "$data.log" >&2; exit 1
}
node_stop() { local p; for p in "$@"; do [[ -n $p ]] || continue; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

# A reading of the node's /health/ready: sets r_ready (0/1: answered), r_reachable and r_repushing
# (0/1), r_backlog (-1: not shown)
read_ready() {
  local ready=""
  rm -f "$work/ready"
  taskset -c "$CLIENT_CPU" curl -s -m 2 -o "$work/ready" "localhost:$NODE_PORT/health/ready" 2>/dev/null || true
  [[ -s $work/ready ]] && ready=$(<"$work/ready")
  r_ready=0 r_reachable=0 r_repushing=0 r_backlog=-1
  [[ $ready == *'"status"'* ]] && r_ready=1
  [[ $ready == *'"reachable":true'* ]] && r_reachable=1
  [[ $ready == *'"repushing":true'* ]] && r_repushing=1
  [[ $ready =~ \"backlog\":([0-9]+) ]] && r_backlog=${BASH_REMATCH[1]}
  return 0
}
# A reading of its /metrics: sets r_repushes, r_pushed and r_published (tally_cluster_repushes_total,
# tally_cluster_pushed_counters_total summed over regions, tally_live_bus_slots_published_total;
# -1: not shown)
read_metrics() {
  rm -f "$work/metrics"
  taskset -c "$CLIENT_CPU" curl -s -m 2 -o "$work/metrics" "localhost:$NODE_PORT/metrics" 2>/dev/null || true
  r_repushes=-1 r_pushed=-1 r_published=-1
  if [[ -s $work/metrics ]]; then
    read -r r_repushes r_pushed r_published < <(awk '
      /^tally_cluster_repushes_total[{ ]/ {r += $NF; rs = 1}
      /^tally_cluster_pushed_counters_total[{ ]/ {p += $NF; ps = 1}
      /^tally_live_bus_slots_published_total[{ ]/ {b += $NF; bs = 1}
      END {printf "%d %d %d\n", rs ? r : -1, ps ? p : -1, bs ? b : -1}' "$work/metrics")
  fi
  return 0
}
reading() { read_ready; read_metrics; }
proc_ticks() { local line f; read -r line < "/proc/$1/stat" || { echo 0; return 0; }; read -ra f <<< "${line##*) }"; echo $((f[11] + f[12])); }
sleep_until() { # µs since the epoch
  local d=$(($1 - ${EPOCHREALTIME/./}))
  if ((d > 0)); then sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"; fi
}

await_node() { # description, seconds, condition (evaluated after each reading); every 100 ms
  local what=$1 limit=$2 cond=$3 deadline
  deadline=$(($(now_us) + limit * 1000000))
  while :; do
    reading
    eval "$cond" && return 0
    if (($(now_us) > deadline)); then
      log "$what: not within $limit s; last /health/ready: $(cat "$work/ready" 2>/dev/null || echo none)"
      exit 1
    fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------- cluster
redis_cluster_up "$REDIS_BASE"
log "Redis Cluster on ports ${redis_ports[0]}-${redis_ports[5]}, CPU $SERVER_CPU"
log "primaries ${primary_ports[*]}"
seeds="127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]}"
bucket_args=()
[[ -n $REDIS_BUCKETS ]] && bucket_args=(--redis-buckets "$REDIS_BUCKETS")

node_start "$NODE_PORT" "$work/node" "$SERVER_CPU" 1g --redis "$seeds" "${bucket_args[@]}"
node_pid=$started
# a node new to a Redis pushes all it holds (nothing yet) once; wait for that to be over
await_node "the node taking pushes" 60 '((r_reachable && r_repushes >= 1 && !r_repushing && r_backlog == 0))'
log "node on port $NODE_PORT pushes to Redis (full re-pushes so far: $r_repushes)"

# ---------------------------------------------------------------- fill
log "fill: $COUNTERS counters, batches of 1000, $FILL_CONNS connections"
t0=$(now_us)
taskset -c "$CLIENT_CPU" timeout "$FILL_TIMEOUT" "$JAVA" -cp "$BENCH_JAR" dev.tally.bench.Filler \
  --target "127.0.0.1:$NODE_PORT" --posts "$COUNTERS" --first-post 1 --counter likes --batch 1000 \
  --connections "$FILL_CONNS" --json "$out/fill.json" > /dev/null 2> "$work/fill.log" ||
  { log "the fill failed"; cat "$work/fill.log" >&2; exit 1; }
t1=$(now_us)
await_node "the node's backlog draining after the fill" "$DRAIN_TIMEOUT" '((r_backlog == 0 && !r_repushing && r_pushed >= COUNTERS))'
t2=$(now_us)
log "filled in $(secs $((t1 - t0))) s ($(grep -o '"counters_per_s":[0-9]*' "$out/fill.json" | cut -d: -f2)/s), pushed $(secs $((t2 - t1))) s later"
repushes0=$r_repushes pushed0=$r_pushed published0=$r_published
count_keys "$out/keys-before.json"
keys0=$(key_field "$out/keys-before.json" bucket_keys)
((keys0 > 0)) || { log "Redis holds no counters after the fill: $(cat "$out/keys-before.json")"; exit 1; }
log "Redis before the flush: $(cat "$out/keys-before.json")"

redis_ticks; c0=$ticks; t0=$(now_us)
sleep 3
redis_ticks; c1=$ticks; t1=$(now_us)
idle_ms_per_s=$(awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", c / k * 1e3 / (d / 1e6)}')

# ---------------------------------------------------------------- flush
fds=()
for p in "${primary_ports[@]}"; do exec {fd}<>"/dev/tcp/127.0.0.1/$p"; fds+=("$fd"); done
log "FLUSHALL on ${primary_ports[*]}"
t_flush_sent=$(now_us)
for fd in "${fds[@]}"; do printf 'FLUSHALL\r\n' >&"$fd"; done
for fd in "${fds[@]}"; do
  read -rt 30 line <&"$fd" && [[ $line == +OK* ]] || { log "FLUSHALL failed: ${line:-no answer}"; exit 1; }
  exec {fd}>&-
done
t_flush=$(now_us)
redis_ticks; c_flush=$ticks; n_flush=$(proc_ticks "$node_pid")

printf 't_ms\tready\trepushing\tbacklog\trepushes_total\tpushed_counters_total\n' > "$out/repush-timeline.tsv"
# /health/ready every 100 ms; /metrics (tens of kB to render, on the node's core) every second, and
# once more at the end: its repushes_total also catches a re-push that began and ended between two
# readings
t_seen=0 t_done=0 i=0 next_metrics=$t_flush
deadline=$((t_flush + REPUSH_TIMEOUT * 1000000))
while :; do
  sleep_until $((t_flush + i * 100000))
  # behind schedule (a busy machine): carry on from the next slot rather than read in a burst
  i=$(((${EPOCHREALTIME/./} - t_flush) / 100000))
  read_ready
  t=$(now_us)
  r_repushes=-1 r_pushed=-1
  if ((t >= next_metrics)) || ((t_seen && !r_repushing && r_backlog == 0)); then
    read_metrics
    next_metrics=$((next_metrics + 1000000))
    # the health reading above came first: one that can say the re-push is over must come after
    # the metrics that show it began
    ((r_repushes > repushes0)) && read_ready
  fi
  printf '%d\t%d\t%d\t%d\t%d\t%d\n' $(((t - t_flush) / 1000)) "$r_ready" "$r_repushing" "$r_backlog" "$r_repushes" \
    "$((r_pushed < 0 ? -1 : r_pushed - pushed0))" >> "$out/repush-timeline.tsv"
  if ((t_seen == 0 && (r_repushing || r_repushes > repushes0))); then
    t_seen=$t
    log "the node noticed after $(secs $((t - t_flush))) s"
  fi
  if ((t_seen && !r_repushing && r_backlog == 0 && r_repushes > repushes0)); then
    t_done=$t
    break
  fi
  if ((t > deadline)); then log "the re-push did not end within $REPUSH_TIMEOUT s; see $out/repush-timeline.tsv"; exit 1; fi
  i=$((i + 1))
done
redis_ticks; c_done=$ticks; n_done=$(proc_ticks "$node_pid")
repushes1=$r_repushes pushed1=$r_pushed published1=$r_published
log "re-push over $(secs $((t_done - t_flush))) s after the flush (readings)"

# ---------------------------------------------------------------- verify
count_keys "$out/keys-after.json"
log "Redis after the re-push: $(cat "$out/keys-after.json")"
node_start "$READER_PORT" "$work/reader" "$CLIENT_CPU" 256m --redis "$seeds" "${bucket_args[@]}"
reader_pid=$started
taskset -c "$CLIENT_CPU" python3 - "$COUNTERS" "$SAMPLE" "$NODE_PORT" "$READER_PORT" > "$out/verify.json" <<'PY'
import json, random, sys, urllib.request
n, sample, node, reader = (int(a) for a in sys.argv[1:])
posts = sorted(random.Random(7).sample(range(1, n + 1), min(sample, n)))
body = json.dumps({"posts": posts, "counters": ["likes"]}).encode()
def read(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/counts/query", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        counts = json.load(r)["counts"]
    got = [counts.get(str(p), {}).get("likes", {}).get("count") for p in posts]
    wrong = [(p, c) for p, c in zip(posts, got) if c != 1]
    return {"sampled": len(posts), "right": len(posts) - len(wrong), "wrong_examples": wrong[:5]}
print(json.dumps({"expected_count": 1, "second_node": read(reader), "filling_node": read(node)}))
PY
node_stop "$reader_pid" "$node_pid"
[[ $(primaries | tr '\n' ' ') == "${primary_ports[*]} " ]] || log "warning: the primaries changed during the run (a failover)"

# ---------------------------------------------------------------- results
COUNTERS=$COUNTERS T_FLUSH_SENT=$t_flush_sent T_FLUSH=$t_flush T_SEEN=$t_seen T_DONE=$t_done \
  CPU_TICKS=$((c_done - c_flush)) NODE_TICKS=$((n_done - n_flush)) CLK_TCK=$CLK_TCK IDLE_MS_PER_S=$idle_ms_per_s \
  PUSHED=$((pushed1 - pushed0)) PUBLISHED=$((published1 - published0)) REPUSHES=$((repushes1 - repushes0)) \
  python3 - "$out" "$work/node.log" <<'PY'
import json, os, re, sys
from datetime import datetime
out, node_log = sys.argv[1:]
e = {k: int(float(os.environ[k])) for k in
     ("COUNTERS", "T_FLUSH_SENT", "T_FLUSH", "T_SEEN", "T_DONE", "CPU_TICKS", "NODE_TICKS", "CLK_TCK", "PUSHED", "PUBLISHED", "REPUSHES")}
counters, t_flush, t_flush_sent, t_seen, t_done = (e[k] for k in ("COUNTERS", "T_FLUSH", "T_FLUSH_SENT", "T_SEEN", "T_DONE"))
load = lambda name: json.load(open(f"{out}/{name}"))
fill, before, after, verify = load("fill.json"), load("keys-before.json"), load("keys-after.json"), load("verify.json")

def us(stamp):  # a log timestamp (2030-01-01T00:00:00.123Z) as µs since the epoch
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1e6)
start = end = None
for line in open(node_log, errors="replace"):
    m = re.match(r"(\S+) \[tally-push-[^]]*\] \[?INFO\]? .*(pushing every counter again|every counter pushed again)", line)
    if not m:
        continue
    t = us(m.group(1))
    if t < t_flush_sent - 1000:  # ms stamps: allow for the rounding
        continue
    if m.group(2).startswith("pushing") and start is None:
        start = t
    elif m.group(2).startswith("every") and start is not None:
        end = t
r = lambda x: round(x, 3)
repush_s = (end - start) / 1e6 if start and end else None
cpu_s = e["CPU_TICKS"] / e["CLK_TCK"]
res = {
    "counters": counters,
    "fill": fill,
    "detect_s": r((start - t_flush) / 1e6) if start else None,
    "repush_s": r(repush_s) if repush_s is not None else None,
    "restored_s": r((end - t_flush) / 1e6) if end else None,
    "counters_per_s": round(counters / repush_s) if repush_s else None,
    "poll_detect_s": r((t_seen - t_flush) / 1e6),
    "poll_restored_s": r((t_done - t_flush) / 1e6),
    "flush_s": r((t_flush - t_flush_sent) / 1e6),
    "full_repushes": e["REPUSHES"],
    "pushed_counters": e["PUSHED"],
    "bus_slots_published": e["PUBLISHED"],
    "redis_cpu_s": r(cpu_s),
    "redis_cpu_us_per_counter": round(cpu_s * 1e6 / counters, 2),
    "redis_cpu_window_s": r((t_done - t_flush) / 1e6),
    "node_cpu_s": r(e["NODE_TICKS"] / e["CLK_TCK"]),
    "redis_idle_cpu_ms_per_s": float(os.environ["IDLE_MS_PER_S"]),
    "keys_before": before,
    "keys_after": after,
    "verify": verify,
}
checks = {
    "bucket_keys_restored": before["bucket_keys"] == after["bucket_keys"],
    "second_node_reads_right": verify["second_node"]["right"] == verify["second_node"]["sampled"],
    "filling_node_reads_right": verify["filling_node"]["right"] == verify["filling_node"]["sampled"],
    "one_full_repush": e["REPUSHES"] == 1,
    "every_counter_pushed": e["PUSHED"] >= counters,
}
res["checks"] = checks
res["ok"] = all(checks.values())
json.dump(res, open(f"{out}/repush.json", "w"), indent=1)
f = lambda v, fmt: format(v, fmt) if v is not None else "?"
summary = (
    f"repush: {counters:,} counters restored {f(res['restored_s'], '.2f')} s after FLUSHALL "
    f"(noticed after {f(res['detect_s'], '.2f')} s, re-pushed in {f(res['repush_s'], '.2f')} s, "
    f"{f(res['counters_per_s'], ',')} counters/s); Redis CPU {res['redis_cpu_us_per_counter']} µs per counter "
    f"({res['redis_cpu_s']:.2f} s over {res['redis_cpu_window_s']:.1f} s, idle {res['redis_idle_cpu_ms_per_s']} ms/s; "
    f"node CPU {res['node_cpu_s']:.2f} s); "
    f"keys {before['dbsize']} before, {after['dbsize']} after (bucket hashes {before['bucket_keys']} / {after['bucket_keys']}); "
    f"second node read {verify['second_node']['right']}/{verify['second_node']['sampled']} right; "
    f"{'ok' if res['ok'] else 'FAILED: ' + ', '.join(k for k, v in checks.items() if not v)}")
open(f"{out}/repush-summary.txt", "w").write(summary + "\n")
PY
cp "$work/node.log" "$out/node-log.txt"
cat "$out/repush-summary.txt"
log "done: $out"
grep -q '"ok": true' "$out/repush.json"
