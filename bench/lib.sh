# Sourced by bench/run.sh, bench/sweep.sh, bench/stalls.sh, bench/floor.sh, bench/cluster.sh, bench/repush.sh,
# bench/cluster-profile.sh, bench/engine.sh, bench/nodecpu.sh, bench/convergence.sh and
# bench/wal-reuse.sh after they set `root` and `set -euo pipefail`:
#   source "$root/bench/lib.sh" NAME [results-dir]
# Sets JAVA_HOME, the jars, the CPU pinning (SERVER_CPU, CLIENT_CPU), CONNS, the loopback ports,
# `out` (the results directory, created) and `work` (a scratch directory removed at exit, with
# every process whose pid is added to `pids` killed); `log` writes "[NAME] ..." to stderr;
# `redis_start ARGS…` starts a Redis on REDIS_PORT and CPU SERVER_CPU (REDIS_PID), `redis_stop` stops it;
# `tally_start DATA [ARGS…]` starts a node on TALLY_PORT and CPU SERVER_CPU and waits until it is ready
# (TALLY_PID; JVM options from TALLY_JAVA_OPTS, default bin/java-home's TALLY_DEFAULT_JAVA_OPTS,
# plus TALLY_JAVA_EXTRA; up to TALLY_READY_WAIT seconds, default 10), `tally_stop` stops it;
# `thread_ticks PID` and `thread_cpu_diff BEFORE AFTER` give a process's CPU by thread between two
# snapshots; `commit_metrics` prints the node's group-commit counters from /metrics.
source "$root/bin/java-home"
bench_name=$1
out=${2:-$root/bench/results/$(date -u +%Y-%m-%d)}
mkdir -p "$out"
JAVA="$JAVA_HOME/bin/java"
BENCH_JAR="$root/tally-bench/target/tally-bench.jar"
TALLY_JAR="$root/tally-server/target/tally.jar"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CONNS=${CONNS:-64}
REDIS_PORT=16379
TALLY_PORT=18181
work=$(mktemp -d "/tmp/tally-$bench_name.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
log() { echo "[$bench_name] $*" >&2; }
redis_start() { # extra redis args
  local dir="$work/redis"; rm -rf "$dir"; mkdir -p "$dir"
  taskset -c "$SERVER_CPU" redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$dir" --save "" "$@" \
    --daemonize no --logfile "$dir/log" & pids+=($!)
  REDIS_PID=$!
  for _ in $(seq 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis did not start" >&2; exit 1
}
redis_stop() { redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true; wait "$REDIS_PID" 2>/dev/null || true; }
tally_start() { # data dir, extra tally args
  local data=$1; shift
  # shellcheck disable=SC2086
  taskset -c "$SERVER_CPU" "$JAVA" -Xms1g -Xmx1g ${TALLY_JAVA_OPTS:-$TALLY_DEFAULT_JAVA_OPTS} ${TALLY_JAVA_EXTRA:-} \
    -jar "$TALLY_JAR" --port $TALLY_PORT --host 127.0.0.1 --data-dir "$data" "$@" > "$work/tally.log" 2>&1 & pids+=($!)
  TALLY_PID=$!
  for _ in $(seq $((${TALLY_READY_WAIT:-10} * 20))); do
    curl -fs localhost:$TALLY_PORT/health/ready >/dev/null 2>&1 && return 0; sleep 0.05
  done
  echo "tally did not start; see $work/tally.log" >&2; cat "$work/tally.log" >&2; exit 1
}
tally_stop() { kill "$TALLY_PID"; wait "$TALLY_PID" 2>/dev/null || true; }
# A local 6-process Redis Cluster for cluster.sh and repush.sh:
#   redis_cluster_up BASE   starts it (deploy/redis-cluster.sh) on CPU SERVER_CPU, ports BASE..BASE+5,
#                           waits until it settled, stops it at exit; sets redis_ports, redis_pids,
#                           rdir and primary_ports
#   redis_ticks             ticks: utime+stime (fields 14 and 15 of /proc/<pid>/stat) of the six
#   primaries               the ports of the primaries that serve slots, as the first Redis sees them
redis_cluster_up() {
  local base=$1 p
  ((base <= 6379 && 6379 <= base + 5)) && { log "the Redis ports must keep clear of 6379"; exit 1; }
  rdir="$work/redis"
  redis_ports=($(seq "$base" $((base + 5))))
  redis_pids=()
  trap 'redis_cluster_down; cleanup' EXIT
  # Redis's own default node timeout (15 s), not the tests' 2 s: with every server on one core, a
  # primary's cluster-bus answers can lag by seconds under load, and a failover mid-run would
  # measure the failover, not the steady state
  # Started in this script's session (REDIS_DAEMONIZE=no), not as daemons: the nodes and Redis
  # then share one scheduling group (Linux autogroup). As daemons each Redis has a group of its
  # own, and on a SERVER_CPU the nodes keep busy this kernel left runnable primaries unrun for
  # seconds, which stalled every push (docs/performance-notes.md, "Redis starved by the scheduler");
  # REDIS_DAEMONIZE=yes measures that setting.
  REDIS_DAEMONIZE=${REDIS_DAEMONIZE:-no} NODE_TIMEOUT_MS=${NODE_TIMEOUT_MS:-15000} \
    taskset -c "$SERVER_CPU" "$root/deploy/redis-cluster.sh" up "$rdir" "$base" >/dev/null
  for p in "${redis_ports[@]}"; do redis_pids+=("$(cat "$rdir/$p/redis.pid")"); done
  for _ in $(seq 150); do redis_settled && break; sleep 0.2; done
  redis_settled || { log "the Redis Cluster did not settle to 3 primaries + 3 replicas"; exit 1; }
  primary_ports=($(primaries))
  ((${#primary_ports[@]} == 3)) || { log "expected 3 primaries, found: ${primary_ports[*]:-none}"; exit 1; }
}
redis_cluster_down() {
  if [[ -d ${rdir:-} ]]; then "$root/deploy/redis-cluster.sh" down "$rdir" "${redis_ports[0]}" >/dev/null 2>&1 || true; fi
}
redis_settled() { # every Redis sees 3 primaries with slots and 3 replicas
  local p
  for p in "${redis_ports[@]}"; do
    redis-cli -p "$p" cluster nodes 2>/dev/null |
      awk '$3 ~ /slave/ {s++} $3 ~ /master/ && NF >= 9 {m++} END {exit !(s == 3 && m == 3)}' || return 1
  done
}
redis_ticks() {
  local p line f t=0
  for p in "${redis_pids[@]}"; do
    read -r line < "/proc/$p/stat" || { log "redis-server $p is gone"; exit 1; }
    read -ra f <<< "${line##*) }" # f[0] is field 3
    t=$((t + f[11] + f[12]))
  done
  ticks=$t
}
# A process's CPU by thread, as a snapshot for thread_cpu_diff: "<tid> <name> <ticks>" per thread
# (utime+stime from /proc/<pid>/task/<tid>/stat; a name's spaces become _, so "C2 CompilerThre" and
# "VM Thread" count too), then "0 (process) <ticks>" from /proc/<pid>/stat, the process's total, which
# keeps what threads took before they ended (the JIT's compiler threads come and go). One awk over
# every stat file: a name may hold spaces and brackets, so fields are counted after its last ")".
commit_metrics() { # the node's group-commit metrics from /metrics: "<name> <value>" per line
  curl -fs "localhost:$TALLY_PORT/metrics" |
    awk '/^tally_commit_(duration_seconds|batch_writes)_(sum|count)[ {]/ {sub(/\{.*\}/, "", $1); print $1, $2}'
}
thread_ticks() { # pid
  awk 'function ticks(line,  j, f) { j = length(line); while (j > 0 && substr(line, j, 1) != ")") j--
         split(substr(line, j + 2), f, " "); return f[12] + f[13] }
       function name(line,  i, j, n) { i = index(line, "("); j = length(line)
         while (j > i && substr(line, j, 1) != ")") j--
         n = substr(line, i + 1, j - i - 1); gsub(/[ \t]/, "_", n); return n }
       FILENAME ~ /\/task\// {print $1, name($0), ticks($0); next}
       {print 0, "(process)", ticks($0)}' /proc/"$1"/task/*/stat "/proc/$1/stat" 2>/dev/null || true
}
# The CPU ticks between two thread_ticks snapshots by thread name, busiest first: "<ticks> <name>",
# and "<ticks> (ended)" for what threads that ended in between took (the process's total less its
# live threads'), so the lines add up to the process's CPU between the snapshots.
thread_cpu_diff() { # before after
  awk 'FILENAME == ARGV[1] {b[$1] = $3; next}
       $2 == "(process)" {total = $3 - b[$1]; next}
       {d = $3 - ($1 in b ? b[$1] : 0); by[$2] += d; live += d}
       END {for (k in by) print by[k], k; print total - live, "(ended)"}' "$1" "$2" | sort -k1,1nr
}
primaries() {
  redis-cli -p "${redis_ports[0]}" cluster nodes |
    awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 {split($2, a, "[:@]"); print a[2]}' | sort -n
}
