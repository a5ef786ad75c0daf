#!/usr/bin/env bash
# What running nodes as a cluster costs, in one run: two standalone nodes, the same two nodes sharing
# their counts through a local Redis Cluster (deploy/redis-cluster.sh: 3 primaries + 3 replicas,
# appendonly everysec), and Redis INCR/GET sent straight to that Redis Cluster:
#   bench/cluster.sh [results-dir]          (default bench/results/<date>-cluster; ≈ 6-8 min)
# Needs a built tree (./mvnw -q -DskipTests package), redis-server and redis-tools (redis-cli,
# redis-benchmark). Environment: WARMUP (40s), WARMUP_MAX (150s) and DURATION (20s) of each node
# load (the warm-up runs from WARMUP until the JIT is done; see below), DIRECT_SECS (10)
# of each redis-benchmark run, REDIS_BASE (17300: Redis on 17300-17305, bus ports +10000),
# SERVER_CPU/CLIENT_CPU (lib.sh), TALLY_JAVA_OPTS/TALLY_JAVA_EXTRA (as tally_start), KEYS (uniform,
# or zipf: the node loads' posts Zipfian with exponent 1.0, as likes and views of a feed fall; the
# targets are stated for uniform, where no two writes of a push round share a counter).
#
# Steps; in the first two each node has its own load generator (32 connections, uniform (KEYS) over
# 100,000 posts, the same posts on both nodes), PUT increments first, then GETs of those posts:
#   standalone  two nodes without --redis, each with its own data
#   cluster     two fresh nodes with --redis on the Redis Cluster. Over each measured window (not
#               the warm-up): CPU time (utime+stime, /proc/<pid>/stat) of all six redis-server
#               processes per request the nodes acknowledged; CONFIG RESETSTAT on each Redis before
#               the window, INFO commandstats of each after it. During the PUT load,
#               dev.tally.bench.ConvergenceProbe increments a counter of its own on node 1 and reads
#               it on node 2 until it shows there (the convergence delay). Between PUT and GET the
#               nodes' backlog is left to drain (up to 60 s), so the GET window has no pushes.
#   sweep       before each GET load (both steps), each node reads every post once in batch reads
#               of 100 posts, as a feed page would: the GET window measures reads of counters a
#               node serves already, which in a cluster means followed ones (the first read of a
#               counter costs one Redis read; the sweep's time is logged)
#   direct      the nodes stopped, FLUSHALL on the primaries: redis-benchmark --cluster, 64
#               clients, -r 100000 (100,000 keys per primary: it tags keys per primary), INCR, then
#               GET after a pipelined SET pass that creates ≈ 95 % of those keys; each after a short
#               pass that warms up and sizes the measured one to ≈ DIRECT_SECS. Same CPU measure,
#               over the whole measured redis-benchmark run.
#
# Pinning, as in run.sh: server processes on SERVER_CPU (the nodes, and the six Redis processes,
# which inherit deploy/redis-cluster.sh's affinity), clients on CLIENT_CPU (load generators, probe,
# redis-benchmark). So both nodes share one core in every step, and in the cluster step Redis takes
# its CPU from that same core: cluster/standalone is what the cluster costs a fixed server budget,
# and Redis's share of it is measured on its own. The probe shares its core with the two load
# generators, which adds scheduling delay to what it sees. SERVER_CPU=0,1 CLIENT_CPU=0,1 unpins.
#
# Each step's window also takes the nodes' own CPU (utime+stime of the process, /proc/<pid>/stat),
# per request and by thread name (/proc/<pid>/task, the JIT's compiler threads included, and what
# threads that ended in the window took), so what a cluster costs the nodes shows beside what it
# costs Redis.
#
# Results: machine.json; {standalone,cluster}-{put,get}-n{1,2}.json (each load generator's report);
# {standalone,cluster}-{put,get}-node-cpu.txt (the nodes' CPU ticks over the window by thread);
# cluster-{put,get}-redis-sched.txt (each Redis's main thread over the window: time on the CPU and
# time ready to run but waiting for it, from /proc/<pid>/schedstat);
# cluster-{put,get}-metrics.txt (each node's tally_cluster_*, tally_live_bus_* and tally_commit_*
# metrics at the window's start and end, to explain a window: follow loads, resubscribes, pushes);
# {standalone,cluster}-{put,get}.json and direct-{incr,get}.json (a step's acknowledged requests/s,
# the worse node's p99, redis_cpu_us_per_request: Redis CPU over the window per request answered in
# it, redis_commands_per_request: calls on the primaries, redis_command_us_per_request: time inside
# commands on all six); cluster-{put,get}-commandstats.txt and direct-{incr,get}-commandstats.txt;
# direct-{incr,get}.csv (redis-benchmark); warmup.txt (each load's warm-up: step, seconds, the
# compiler threads' ticks in its last 5 s); convergence.json; redis-idle.json (the six Redis
# processes' CPU with no node, before the cluster step); cluster-drain.json; cluster.tsv (a line
# per step) and cluster-summary.md, printed at the end. Uses ports 18191-18192 for the nodes.
# Everything talks to 127.0.0.1 only; every load is bounded in time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" cluster "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-cluster}"
# Each load's warm-up lasts at least WARMUP and then until the nodes' JIT compilers are done (their
# threads under 5 % of a core over 5 s, both nodes together), at most WARMUP_MAX: under the PUT load
# a fresh cluster node compiled for 55-75 s on the shared core (≈ 10 s of compiler CPU each, the
# compilers a third of the core meanwhile, the nodes at 4-12k writes/s where they settle at 22-27k),
# and a window that starts earlier measures the compilers, not the cluster. The window then starts
# on the same connections (tally-bench --warmup-until).
WARMUP=${WARMUP:-40s}
WARMUP_MAX=${WARMUP_MAX:-150s}
DURATION=${DURATION:-20s}
DIRECT_SECS=${DIRECT_SECS:-10}
REDIS_BASE=${REDIS_BASE:-17300}
NODE_CONNS=32
POSTS=100000
KEYS=${KEYS:-uniform}
[[ $KEYS == uniform || $KEYS == zipf ]] || { log "KEYS must be uniform or zipf, not $KEYS"; exit 2; }
NODE_PORTS=(18191 18192)
CLK_TCK=$(getconf CLK_TCK)
tsv="$out/cluster.tsv"
redis_fds=()
node_pids=()
ticks=0 w_c0=0 w_c1=0 w_t0=0 w_t1=0

trap 'redis_cluster_down; cleanup' EXIT
trap 'exit 130' INT TERM

{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"nproc\":$(nproc),"
  echo "\"cpu\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
  echo "\"java\":\"$("$JAVA" -version 2>&1 | head -1 | tr -d '"')\",\"clk_tck\":$CLK_TCK,"
  echo "\"warmup\":\"$WARMUP\",\"warmup_max\":\"$WARMUP_MAX\",\"duration\":\"$DURATION\",\"direct_secs\":$DIRECT_SECS,"
  echo "\"server_cpu\":\"$SERVER_CPU\",\"client_cpu\":\"$CLIENT_CPU\",\"keys\":\"$KEYS\","
  echo "\"redis_daemonize\":\"${REDIS_DAEMONIZE:-no}\",\"autogroup\":$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo null),"
  echo "\"redis\":\"$(redis-server --version | awk '{print $3}')\",\"git\":\"$(git -C "$root" rev-parse --short HEAD)\"}"
} > "$out/machine.json"
: > "$out/warmup.txt"
printf 'step\tworkload\tclient\trequests_per_s\trequests\tnot_acknowledged\tp99_ms\tredis_cpu_us_per_request\tredis_commands_per_request\tnode_cpu_us_per_request\tserver_cpu_busy\n' > "$tsv"

# ---------------------------------------------------------------- helpers
now_us() { echo "${EPOCHREALTIME/./}"; }
duration_us() { # 500ms, 10s, 1.5s, 2m -> µs
  case $1 in
    *ms) echo $((${1%ms} * 1000)) ;;
    *s) awk -v s="${1%s}" 'BEGIN {printf "%d", s * 1000000}' ;;
    *m) echo $((${1%m} * 60000000)) ;;
    *) echo "not a duration: $1 (use ms, s or m)" >&2; exit 1 ;;
  esac
}
sleep_until() { # µs since the epoch
  local d=$(($1 - ${EPOCHREALTIME/./}))
  if ((d > 0)); then sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"; fi
}
warmup_us=$(duration_us "$WARMUP")
warmup_max_us=$(duration_us "$WARMUP_MAX")
((warmup_us >= 5000000 && warmup_max_us >= warmup_us)) || { log "need 5s <= WARMUP <= WARMUP_MAX"; exit 2; }
window_us=$(duration_us "$DURATION")

# The edges of a measured window use shell builtins only, over a connection to each Redis opened
# beforehand: no process to start, so on a busy machine an edge still takes about a millisecond.
window_start() { # CONFIG RESETSTAT on every Redis, then w_c0/w_t0: Redis CPU ticks and time (µs)
  local p fd line
  redis_fds=()
  for p in "${redis_ports[@]}"; do exec {fd}<>"/dev/tcp/127.0.0.1/$p"; redis_fds+=("$fd"); done
  for fd in "${redis_fds[@]}"; do printf 'CONFIG RESETSTAT\r\n' >&"$fd"; done
  for fd in "${redis_fds[@]}"; do
    read -rt 10 line <&"$fd" && [[ $line == +OK* ]] || { log "CONFIG RESETSTAT failed: ${line:-no answer}"; exit 1; }
  done
  redis_ticks; w_c0=$ticks; w_t0=${EPOCHREALTIME/./}
  redis_sched > "$work/redis-sched0"
}
redis_sched() { # per Redis: port, then its main thread's time on the CPU and waiting for it (ns, schedstat)
  local i
  for i in "${!redis_pids[@]}"; do echo "${redis_ports[i]} $(cut -d' ' -f1,2 "/proc/${redis_pids[i]}/schedstat")"; done
}
window_end() { # file: w_c1/w_t1, then each Redis's INFO commandstats into file, under "# 127.0.0.1:PORT ROLE"
  local i fd head body
  redis_ticks; w_c1=$ticks; w_t1=${EPOCHREALTIME/./}
  # how long each Redis ran and how long it was ready to run but waited for the CPU, over the window
  redis_sched | awk 'NR == FNR {r[$1] = $2; w[$1] = $3; next}
    {printf "%s run_ms %.0f waiting_ms %.0f\n", $1, ($2 - r[$1]) / 1e6, ($3 - w[$1]) / 1e6}' "$work/redis-sched0" - \
    > "${1%-commandstats.txt}-redis-sched.txt"
  for fd in "${redis_fds[@]}"; do printf 'INFO commandstats\r\n' >&"$fd"; done
  for i in "${!redis_fds[@]}"; do
    fd=${redis_fds[i]}
    read -rt 10 head <&"$fd" && [[ $head == \$* ]] || { log "INFO commandstats failed: ${head:-no answer}"; exit 1; }
    head=${head%$'\r'}
    read -rt 10 -N "${head#\$}" body <&"$fd"
    read -rt 10 _ <&"$fd" # the bulk string's closing CRLF
    exec {fd}>&-
    echo "# 127.0.0.1:${redis_ports[i]} $(redis-cli -p "${redis_ports[i]}" role | head -1)"
    printf '%s\n' "$body" | tr -d '\r' | { grep '^cmdstat_' || true; }
  done > "$1"
  redis_fds=()
}

node_start() { # index (0|1), data dir, extra tally args…
  local i=$1 data=$2 port=${NODE_PORTS[$1]}; shift 2
  if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then log "port $port is already in use"; exit 1; fi
  # shellcheck disable=SC2086
  taskset -c "$SERVER_CPU" "$JAVA" -Xms1g -Xmx1g ${TALLY_JAVA_OPTS:-$TALLY_DEFAULT_JAVA_OPTS} ${TALLY_JAVA_EXTRA:-} \
    -jar "$TALLY_JAR" --port "$port" --host 127.0.0.1 --data-dir "$data" "$@" > "$data.log" 2>&1 & pids+=($!)
  node_pids[i]=$!
  for _ in $(seq 300); do curl -fs "localhost:$port/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "node $((i + 1)) did not start; see $data.log"; cat "$data.log" >&2; exit 1
}
node_metrics() { # edge: each node's cluster, bus and commit metrics, under "# node<N> <edge> <unix ms>"
  local i
  for i in 0 1; do
    echo "# node$((i + 1)) $1 $((${EPOCHREALTIME/./} / 1000))"
    curl -sf --max-time 5 "http://127.0.0.1:${NODE_PORTS[i]}/metrics" \
      | grep -E '^tally_(cluster|live_bus|commit)_' | grep -v '_bucket{' || echo "# (no answer)"
  done
}

node_threads() { # file: each node's thread_ticks snapshot (bench/lib.sh) in file.node<N>, and the machine's
  local i t line f
  for i in "${!node_pids[@]}"; do thread_ticks "${node_pids[i]}" > "$1.node$((i + 1))"; done
  # every process's CPU ticks (what else takes the cores), and the server CPUs' own split
  for t in /proc/[0-9]*; do
    read -r line < "$t/stat" 2>/dev/null || continue
    read -ra f <<< "${line##*) }" # f[0] is field 3: a name may hold spaces
    echo "${t#/proc/} $((f[11] + f[12])) $(tr '\0' ' ' < "$t/cmdline" 2>/dev/null | cut -c1-100)"
  done > "$1.procs" 2>/dev/null || true
  awk -v cpus=",$SERVER_CPU," '$1 ~ /^cpu[0-9]+$/ && index(cpus, "," substr($1, 4) ",")' /proc/stat > "$1.stat"
  # the server CPUs' idle and total ticks (/proc/stat), for how busy they were
  awk -v cpus=",$SERVER_CPU," '$1 ~ /^cpu[0-9]+$/ && index(cpus, "," substr($1, 4) ",") {
    t = 0; for (i = 2; i <= NF; i++) t += $i; print $1, $5 + $6, t }' /proc/stat > "$1.cpu"
}
jit_time() { # file: each node's JIT compilation so far, "node<N> <ns> <compiles>" (jcmd PerfCounter.print:
  # java.ci.totalTime, the compiler threads' time in compilations, and sun.ci.totalCompiles)
  local i j=()
  for i in "${!node_pids[@]}"; do
    taskset -c "$CLIENT_CPU" "$JAVA_HOME/bin/jcmd" "${node_pids[i]}" PerfCounter.print 2>/dev/null |
      awk -v n="node$((i + 1))" -F= '$1 == "java.ci.totalTime" {t = $2} $1 == "sun.ci.totalCompiles" {c = $2}
        END {print n, t + 0, c + 0}' > "$1.$i" &
    j+=($!)
  done
  wait "${j[@]}" || true
  cat "$1".* > "$1"
}
compiler_ticks() { # before after (node_threads files): the JIT compiler threads' ticks in between, both
  # nodes ("(ended)" counts too: the JVM ends compiler threads it no longer needs)
  local i
  for i in 1 2; do thread_cpu_diff "$1.node$i" "$2.node$i"; done | awk '$2 ~ /Compiler|^\(ended\)$/ {t += $1} END {print (t > 0 ? t : 0)}'
}
await_compilers() { # name, t0 (µs, the load's start): returns once the warm-up is over (see WARMUP);
  # reads the caller's `redis`
  local name=$1 t0=$2 t c=0 snap=0
  t=$((t0 + warmup_us - 5000000))
  sleep_until "$t"
  node_threads "$work/$name-warm.0"
  while :; do
    t=$((t + 5000000))
    sleep_until "$t"
    node_threads "$work/$name-warm.$((snap ^ 1))"
    # the window's edges read each node's /metrics: read them in the warm-up too, so that their
    # code is compiled by then
    if ((redis)); then node_metrics warm-up > /dev/null; fi
    c=$(compiler_ticks "$work/$name-warm.$snap" "$work/$name-warm.$((snap ^ 1))")
    snap=$((snap ^ 1))
    # 5 % of a core over 5 s
    ((c * 20 > 5 * CLK_TCK && t - t0 < warmup_max_us)) || break
  done
  echo "$name $(((t - t0) / 1000000)) $c" >> "$out/warmup.txt"
  log "$name: warmed up for $(((t - t0) / 1000000)) s, the compilers at $((c * 20 / CLK_TCK)) % of a core in its last 5 s"
}
node_stop() { local p; for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; node_pids=(); }
await_ready() { # pattern: wait (≤ $2 s) until both nodes' /health/ready matches it; prints the seconds
  local i t0 deadline body
  t0=$(now_us); deadline=$((t0 + $2 * 1000000))
  for i in 0 1; do
    until body=$(curl -fs "localhost:${NODE_PORTS[i]}/health/ready") && [[ $body =~ $1 ]]; do
      if (($(now_us) > deadline)); then log "node $((i + 1)) not matching $1 after $2 s: ${body:-}"; echo -1; return 0; fi
      sleep 0.1
    done
  done
  awk -v d=$(($(now_us) - t0)) 'BEGIN {printf "%.1f", d / 1e6}'
}

record() { # step workload window_us redis_ticks|- commandstats|- then: load JSONs, or redis-benchmark CSV and request count
  python3 - "$out" "$CLK_TCK" "$@" >> "$tsv" <<'PY'
import json, sys
out, clk, step, workload, win_us, ticks, cmdfile, *rest = sys.argv[1:]
win_s = int(win_us) / 1e6
rec = {"step": step, "workload": workload, "window_s": win_s}
if step == "direct":
    csv, n = rest
    rows = [l.strip() for l in open(csv) if l.startswith('"')]
    d = dict(zip((h.strip('"') for h in rows[0].split(",")), (v.strip('"') for v in rows[-1].split(","))))
    rps, requests = float(d["rps"]), int(n)
    rec.update(client="redis-benchmark", requests_per_s=rps, requests=requests, not_acknowledged=0,
               p99_ms=float(d.get("p99_latency_ms", "nan")))
    in_window = requests  # the window is the whole run
else:
    loads = [json.load(open(p)) for p in rest]
    rps = round(sum(l["status_2xx"] / l["duration_s"] for l in loads), 1)
    requests = sum(l["status_2xx"] for l in loads)
    rec.update(client="tally-bench", requests_per_s=rps, requests=requests,
               not_acknowledged=sum(l["requests"] - l["status_2xx"] + l["errors"] for l in loads),
               per_node_requests_per_s=[round(l["status_2xx"] / l["duration_s"], 1) for l in loads],
               p99_ms=max(v["p99_ms"] for l in loads for k, v in l.items() if k.endswith("_latency")))
    in_window = rps * win_s  # the Redis window is measured apart from the loads' own windows
node_ticks = sum(int(l.split()[0]) for l in open(f"{out}/{step}-{workload}-node-cpu.txt")) \
    if step != "direct" else 0
if step != "direct":
    rec["server_cpu_busy"] = float(open(f"{out}/{step}-{workload}-server-busy.txt").read())
    rec["node_cpu_s"] = node_ticks / int(clk)
    rec["node_cpu_us_per_request"] = round(node_ticks / int(clk) * 1e6 / in_window, 2) if in_window else None
if ticks != "-":
    cpu_s = int(ticks) / int(clk)
    rec["redis_cpu_s"] = cpu_s
    rec["redis_cpu_us_per_request"] = round(cpu_s * 1e6 / in_window, 2) if in_window else None
if cmdfile != "-":
    calls, usec, primary = {}, 0, False
    for line in open(cmdfile):
        if line.startswith("#"):
            primary = line.split()[-1] == "master"
            continue
        name, fields = line.strip()[len("cmdstat_"):].split(":", 1)
        f = dict(kv.split("=") for kv in fields.split(","))
        usec += int(f["usec"])
        if primary:
            calls[name] = calls.get(name, 0) + int(f["calls"])
    rec["redis_calls_on_primaries"] = calls
    rec["redis_commands_per_request"] = round(sum(calls.values()) / in_window, 3) if in_window else None
    rec["redis_command_us_per_request"] = round(usec / in_window, 2) if in_window else None
json.dump(rec, open(f"{out}/{step}-{workload}.json", "w"))
print("\t".join(str(x) for x in (step, workload, rec["client"], rec["requests_per_s"], rec["requests"],
      rec["not_acknowledged"], rec["p99_ms"], rec.get("redis_cpu_us_per_request", ""),
      rec.get("redis_commands_per_request", ""), rec.get("node_cpu_us_per_request", ""),
      rec.get("server_cpu_busy", ""))))
PY
}

phase() { # step (standalone|cluster), workload (write|read): both nodes under load at once
  local step=$1 w=$2 name i t_load t_win go probe="" lp=() redis=0 deadline
  local label=put; [[ $w == read ]] && label=get
  name=$step-$label
  [[ $step == cluster ]] && redis=1
  log "$name: $NODE_CONNS connections per node, a warm-up of $WARMUP to $WARMUP_MAX, then $DURATION"
  # one load per node: its warm-up ends when the script creates $go (the compilers are done), and
  # the window runs on the same connections (restarting the load made the JIT recompile the I/O
  # paths it had compiled without a closed connection in them)
  go="$work/$name.go"
  rm -f "$go"
  for i in 0 1; do
    taskset -c "$CLIENT_CPU" "$JAVA" -jar "$BENCH_JAR" --target "127.0.0.1:${NODE_PORTS[i]}" \
      --connections "$NODE_CONNS" --duration "$DURATION" --warmup "$WARMUP_MAX" --warmup-until "$go" \
      --workload "$w" --keys "$KEYS" \
      --posts "$POSTS" --first-post 1 --seed $((42 + i)) --json "$out/$name-n$((i + 1)).json" \
      > /dev/null 2> "$work/$name-n$((i + 1)).log" & pids+=($!)
    lp+=($!)
  done
  # each load generator prints "load: …" as its warm-up starts
  deadline=$(($(now_us) + 60000000))
  until grep -q '^load:' "$work/$name-n1.log" && grep -q '^load:' "$work/$name-n2.log"; do
    if (($(now_us) > deadline)); then log "the load generators did not start"; cat "$work/$name"-n*.log >&2; exit 1; fi
    sleep 0.02
  done
  t_load=${EPOCHREALTIME/./}
  if ((redis)) && [[ $w == write ]]; then
    taskset -c "$CLIENT_CPU" "$JAVA" -cp "$BENCH_JAR" dev.tally.bench.ConvergenceProbe \
      --from "127.0.0.1:${NODE_PORTS[0]}" --to "127.0.0.1:${NODE_PORTS[1]}" --post 900000001 \
      --warmup "$WARMUP_MAX" --warmup-until "$go" --duration "$DURATION" --pause 10ms --timeout 5s \
      --json "$out/convergence.json" > /dev/null 2> "$work/probe.log" & pids+=($!)
    probe=$!
  fi
  await_compilers "$name" "$t_load"
  touch "$go"
  t_win=${EPOCHREALTIME/./}
  sleep 0.05 # the load generators look for the file every 10 ms
  node_threads "$work/$name-threads0"
  ((redis)) && window_start
  ((redis)) && node_metrics start > "$out/$name-metrics.txt"
  jit_time "$work/$name-jit0"
  sleep_until $((t_win + window_us))
  node_threads "$work/$name-threads1"
  ((redis)) && window_end "$out/$name-commandstats.txt"
  ((redis)) && node_metrics end >> "$out/$name-metrics.txt"
  jit_time "$work/$name-jit1"
  # JIT compilation over the window, both nodes: a window the compilers still work in is no
  # steady state (on a shared core they take CPU from the nodes and leave hot code interpreted or
  # at C1 for longer)
  awk 'NR == FNR {t[$1] = $2; c[$1] = $3; next} {ms += ($2 - t[$1]) / 1e6; n += $3 - c[$1]}
    END {printf "%.0f %d\n", ms, n}' "$work/$name-jit0" "$work/$name-jit1" > "$out/$name-jit.txt"
  # the nodes' CPU over the window by thread name, busiest first, "(ended)" for threads that ended in it
  for i in 1 2; do
    thread_cpu_diff "$work/$name-threads0.node$i" "$work/$name-threads1.node$i" | awk -v n="node$i" '{print $1, n, $2}'
  done > "$out/$name-node-cpu.txt"
  awk 'NR == FNR {i[$1] = $2; t[$1] = $3; next} {idle += $2 - i[$1]; all += $3 - t[$1]}
    END {printf "%.3f\n", all ? 1 - idle / all : 0}' "$work/$name-threads0.cpu" "$work/$name-threads1.cpu" \
    > "$out/$name-server-busy.txt"
  {
    echo "# ticks over the window: server CPUs by kind (/proc/stat), then the run's busiest processes"
    echo "# (the nodes, Redis, this script) and all other processes of the machine as one line"
    awk 'NR == FNR {for (i = 2; i <= NF; i++) a[$1, i] = $i; next}
      {printf "%s user %d nice %d system %d idle %d iowait %d irq %d softirq %d steal %d\n", $1,
        $2 - a[$1, 2], $3 - a[$1, 3], $4 - a[$1, 4], $5 - a[$1, 5], $6 - a[$1, 6], $7 - a[$1, 7], $8 - a[$1, 8], $9 - a[$1, 9]}' \
      "$work/$name-threads0.stat" "$work/$name-threads1.stat"
    awk 'NR == FNR {a[$1] = $2; next} ($1 in a) && $2 - a[$1] > 0 {d = $2 - a[$1]; $2 = ""
        if ($0 ~ /tally|redis-server|cluster\.sh/) print d, $0; else { other += d; n++ } }
      END {if (n) printf "%d (%d other processes)\n", other, n}' \
      "$work/$name-threads0.procs" "$work/$name-threads1.procs" | sort -rn | head -20
  } > "$out/$name-cpu-by-process.txt"
  for i in 0 1; do
    wait "${lp[i]}" || { log "load generator $((i + 1)) failed"; cat "$work/$name-n$((i + 1)).log" >&2; exit 1; }
  done
  if [[ -n $probe ]]; then
    wait "$probe" || { log "the convergence probe failed"; cat "$work/probe.log" >&2; exit 1; }
  fi
  if ((redis)); then
    record "$step" "$label" $((w_t1 - w_t0)) $((w_c1 - w_c0)) "$out/$name-commandstats.txt" "$out/$name-n1.json" "$out/$name-n2.json"
  else
    record "$step" "$label" "$window_us" - - "$out/$name-n1.json" "$out/$name-n2.json"
  fi
}

sweep() { # before a GET window: each node reads every post once, in batch reads of 100 posts (a
  # feed page's read), so the window measures reads of counters a node already serves; in a cluster
  # that is where a node learns the other node's shares (one Redis read per counter, pipelined)
  local i p cfg="$work/sweep.curl" started=${EPOCHREALTIME/./}
  for i in 0 1; do
    : > "$cfg"
    for ((p = 1; p <= POSTS; p += 100)); do
      echo "url = \"http://127.0.0.1:${NODE_PORTS[i]}/v1/counts?counters=likes&posts=$(seq -s, "$p" $((p + 99 < POSTS ? p + 99 : POSTS)))\"" >> "$cfg"
    done
    taskset -c "$CLIENT_CPU" timeout 120 curl -sf -K "$cfg" > /dev/null || { log "the read sweep failed"; exit 1; }
  done
  log "read sweep of $POSTS posts on both nodes: $(( (${EPOCHREALTIME/./} - started) / 1000 )) ms"
}

bench_redis() { # redis-benchmark args…: cluster mode on the first primary, 64 clients, bounded in time
  taskset -c "$CLIENT_CPU" timeout $((DIRECT_SECS * 6 + 60)) redis-benchmark --cluster -h 127.0.0.1 \
    -p "${primary_ports[0]}" -c 64 -r "$POSTS" --csv -q "$@" 2>/dev/null | grep '^"'
}
direct() { # test: incr|get
  local t=$1 rps n
  log "direct: redis-benchmark --cluster -t $t, 64 clients"
  rps=$(bench_redis -n 100000 -t "$t" | tail -1 | cut -d, -f2 | tr -d '"')
  n=$(awk -v r="$rps" -v s="$DIRECT_SECS" 'BEGIN {printf "%d", r * s}')
  window_start
  bench_redis -n "$n" -t "$t" > "$out/direct-$t.csv"
  window_end "$out/direct-$t-commandstats.txt"
  record direct "$t" $((w_t1 - w_t0)) $((w_c1 - w_c0)) "$out/direct-$t-commandstats.txt" "$out/direct-$t.csv" "$n"
}

# ---------------------------------------------------------------- standalone
node_start 0 "$work/standalone-n1"
node_start 1 "$work/standalone-n2"
phase standalone write
sweep
phase standalone read
node_stop

# ---------------------------------------------------------------- Redis Cluster
redis_cluster_up "$REDIS_BASE"
log "Redis Cluster on ports ${redis_ports[0]}-${redis_ports[5]}, CPU $SERVER_CPU"
log "primaries ${primary_ports[*]}; affinity of redis-server ${redis_pids[0]}: $(taskset -cp "${redis_pids[0]}" | awk '{print $NF}')"
redis_ticks; c0=$ticks; t0=${EPOCHREALTIME/./}
sleep 5
redis_ticks; c1=$ticks; t1=${EPOCHREALTIME/./}
awk -v c=$((c1 - c0)) -v k="$CLK_TCK" -v d=$((t1 - t0)) \
  'BEGIN {printf "{\"redis_idle_cpu_ms_per_s\":%.2f}\n", c / k * 1e3 / (d / 1e6)}' > "$out/redis-idle.json"

# ---------------------------------------------------------------- cluster
seeds="127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]}"
node_start 0 "$work/cluster-n1" --redis "$seeds"
node_start 1 "$work/cluster-n2" --redis "$seeds"
[[ $(await_ready '"reachable":true' 30) != -1 ]] || exit 1
phase cluster write
drain=$(await_ready '"backlog":0[,}]' 60)
log "backlog drained ${drain} s after the PUT load"
echo "{\"backlog_drain_s\":$drain}" > "$out/cluster-drain.json"
sweep
phase cluster read
node_stop
failover_check() { # warns and keeps the Redis logs when the primaries changed
  [[ $(primaries | tr '\n' ' ') == "${primary_ports[*]} " ]] && return 0
  log "warning: the primaries changed during the run (a failover); Redis logs kept in $out/redis-logs"
  mkdir -p "$out/redis-logs"
  for p in "${redis_ports[@]}"; do cp "$rdir/$p/redis.log" "$out/redis-logs/$p.log" 2>/dev/null || true; done
}
failover_check

# ---------------------------------------------------------------- direct
for p in "${primary_ports[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
direct incr
log "filling the GET keys (pipelined SET)"
bench_redis -n $((9 * POSTS)) -t set -P 16 > /dev/null
direct get
failover_check

# ---------------------------------------------------------------- summary
python3 - "$out" > "$out/cluster-summary.md" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = {(r["step"], r["workload"]): r for r in csv.DictReader(open(f"{out}/cluster.tsv"), delimiter="\t")}
machine = json.load(open(f"{out}/machine.json"))
conv = json.load(open(f"{out}/convergence.json"))
idle = json.load(open(f"{out}/redis-idle.json"))
drain = json.load(open(f"{out}/cluster-drain.json"))
f = lambda r, k: float(r[k]) if r.get(k) not in (None, "", "None") else float("nan")
ratio = lambda a, b: a / b if b else float("nan")
print(f"Cluster cost, {machine['date']}, git {machine['git']}, {machine['nproc']} cores, Redis {machine['redis']}; "
      f"two nodes × 32 connections, {machine.get('keys', 'uniform')} over 100,000 posts, a warm-up (below) + {machine['duration']}; "
      f"servers on CPU {machine['server_cpu']}, clients on CPU {machine['client_cpu']}; "
      f"Redis {'as daemons (a scheduling group each)' if machine.get('redis_daemonize') == 'yes' else 'in one scheduling group with the nodes'}"
      f" (autogroup {machine.get('autogroup')})\n")
print("| | standalone req/s | cluster req/s | cluster / standalone | Redis CPU µs per tally request "
      "| direct req/s | Redis CPU µs per direct command | tally cluster / direct |")
print("|---|---|---|---|---|---|---|---|")
for label, cmd in (("put", "incr"), ("get", "get")):
    s, c, d = rows[("standalone", label)], rows[("cluster", label)], rows[("direct", cmd)]
    print(f"| {label.upper()} (direct {cmd.upper()}) | {f(s, 'requests_per_s'):,.0f} | {f(c, 'requests_per_s'):,.0f} "
          f"| {ratio(f(c, 'requests_per_s'), f(s, 'requests_per_s')):.2f} | {f(c, 'redis_cpu_us_per_request'):.1f} "
          f"| {f(d, 'requests_per_s'):,.0f} | {f(d, 'redis_cpu_us_per_request'):.1f} "
          f"| {ratio(f(c, 'requests_per_s'), f(d, 'requests_per_s')):.2f} |")
print()
print(f"Convergence delay under the cluster PUT load (acknowledged on node 1, visible on node 2): "
      f"p50 {conv['p50_ms']:.1f} ms, p99 {conv['p99_ms']:.1f} ms, max {conv['max_ms']:.1f} ms "
      f"({conv['samples']} samples, {conv['timeouts']} over 5 s, {conv['errors']} errors).")
sched = [l.split() for l in open(f"{out}/cluster-put-redis-sched.txt")]
print(f"The six Redis main threads over the PUT window: on the CPU {sum(float(x[2]) for x in sched) / 1000:.1f} s, "
      f"ready but waiting for it {sum(float(x[4]) for x in sched) / 1000:.1f} s "
      f"(the most for one: {max(float(x[4]) for x in sched) / 1000:.1f} s; /proc/<pid>/schedstat).")
print(f"Redis commands per tally request on the primaries: PUT {f(rows[('cluster', 'put')], 'redis_commands_per_request'):.3f}, "
      f"GET {f(rows[('cluster', 'get')], 'redis_commands_per_request'):.3f}. "
      f"Not acknowledged (non-2xx or failed) in the cluster windows: PUT {rows[('cluster', 'put')]['not_acknowledged']}, "
      f"GET {rows[('cluster', 'get')]['not_acknowledged']}.")
print(f"The six Redis processes idle (no node): {idle['redis_idle_cpu_ms_per_s']:.1f} ms CPU per s, "
      f"included in the per-request figures; "
      f"the nodes' backlog drained {drain['backlog_drain_s']} s after the PUT load (-1: not within 60 s).")
backlog = {}  # (node, edge) -> counters waiting to be pushed, from cluster-put-metrics.txt
edge = None
for line in open(f"{out}/cluster-put-metrics.txt"):
    if line.startswith("# node"):
        edge = tuple(line.split()[1:3])
    elif line.startswith('tally_cluster_backlog{region="local"}') and edge:
        backlog[edge] = int(float(line.split()[-1]))
if backlog:
    print("Counters waiting to be pushed (tally_cluster_backlog) at the start and end of the PUT window: "
          + ", ".join(f"{n} {backlog.get((n, 'start'), '?')} → {backlog.get((n, 'end'), '?')}"
                      for n in ("node1", "node2"))
          + (" (thousands waiting: the pushers fell behind, and a new write waits for a pass over"
             " the backlog)." if max(backlog.values()) >= 10_000 else "."))
print("Node CPU µs per request (both nodes, utime+stime over the window): " + ", ".join(
    f"{label.upper()} standalone {f(rows[('standalone', label)], 'node_cpu_us_per_request'):.1f}, "
    f"cluster {f(rows[('cluster', label)], 'node_cpu_us_per_request'):.1f}" for label in ("put", "get"))
    + "; by thread in {standalone,cluster}-{put,get}-node-cpu.txt. Server CPUs busy: " + ", ".join(
    f"{label.upper()} standalone {f(rows[('standalone', label)], 'server_cpu_busy'):.0%}, "
    f"cluster {f(rows[('cluster', label)], 'server_cpu_busy'):.0%}" for label in ("put", "get")) + ".")
jit = {}
for step in ("standalone", "cluster"):
    for label in ("put", "get"):
        try:
            ms, n = open(f"{out}/{step}-{label}-jit.txt").read().split()
            jit[step, label] = f"{label.upper()} {step} {int(ms) / 1000:.1f} s ({n} compilations)"
        except (OSError, ValueError):
            jit[step, label] = f"{label.upper()} {step} unknown"
print("JIT compilation in the windows (both nodes, java.ci.totalTime; the more, the further from a "
      "steady state): " + ", ".join(jit[k] for k in sorted(jit, key=lambda k: (k[1] == "get", k[0] == "cluster"))) + ".")
warm = {}
for line in open(f"{out}/warmup.txt"):
    name, secs, ticks = line.split()
    step, label = name.split("-")
    warm[step, label] = f"{label.upper()} {step} {secs} s ({int(ticks) * 20 / machine['clk_tck']:.0f} % in its last 5 s)"
print(f"Warm-ups, each until the nodes' compiler threads took under 5 % of a core over 5 s (at least "
      f"{machine['warmup']}, at most {machine.get('warmup_max')}): "
      + ", ".join(warm[k] for k in sorted(warm, key=lambda k: (k[1] == "get", k[0] == "cluster"))) + ".")
PY
cat "$out/cluster-summary.md"
if (($(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["samples"])' "$out/convergence.json") < 50)); then
  log "warning: fewer than 50 convergence samples; use a longer DURATION"
fi
log "done: $out"
