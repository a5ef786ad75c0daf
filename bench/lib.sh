# Sourced by bench/run.sh and bench/sweep.sh after they set `root` and `set -euo pipefail`:
#   source "$root/bench/lib.sh" NAME [results-dir]
# Sets JAVA_HOME, the jars, the CPU pinning (SERVER_CPU, CLIENT_CPU), CONNS, the loopback ports,
# `out` (the results directory, created) and `work` (a scratch directory removed at exit, with
# every process whose pid is added to `pids` killed); `log` writes "[NAME] ..." to stderr.
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
