# Sourced by bench/run.sh, bench/sweep.sh, bench/stalls.sh, bench/floor.sh and bench/cluster.sh after they set
# `root` and `set -euo pipefail`:
#   source "$root/bench/lib.sh" NAME [results-dir]
# Sets JAVA_HOME, the jars, the CPU pinning (SERVER_CPU, CLIENT_CPU), CONNS, the loopback ports,
# `out` (the results directory, created) and `work` (a scratch directory removed at exit, with
# every process whose pid is added to `pids` killed); `log` writes "[NAME] ..." to stderr;
# `redis_start ARGS…` starts a Redis on REDIS_PORT and CPU SERVER_CPU (REDIS_PID), `redis_stop` stops it;
# `tally_start DATA [ARGS…]` starts a node on TALLY_PORT and CPU SERVER_CPU and waits until it is ready
# (TALLY_PID; JVM options from TALLY_JAVA_OPTS, default ZGC, plus TALLY_JAVA_EXTRA), `tally_stop` stops it.
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
  taskset -c "$SERVER_CPU" "$JAVA" -Xms1g -Xmx1g ${TALLY_JAVA_OPTS:--XX:+UseZGC} ${TALLY_JAVA_EXTRA:-} \
    -jar "$TALLY_JAR" --port $TALLY_PORT --host 127.0.0.1 --data-dir "$data" "$@" > "$work/tally.log" 2>&1 & pids+=($!)
  TALLY_PID=$!
  for _ in $(seq 100); do curl -fs localhost:$TALLY_PORT/health/ready >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "tally did not start; see $work/tally.log" >&2; cat "$work/tally.log" >&2; exit 1
}
tally_stop() { kill "$TALLY_PID"; wait "$TALLY_PID" 2>/dev/null || true; }
