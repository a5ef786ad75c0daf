#!/usr/bin/env bash
# The Redis-protocol listener against Redis itself, one client for all (redis-benchmark, the same
# command line), in one run:
#   bench/resp.sh [results-dir]
# INCR on 100,000 random keys, 64 connections, at -P 1 and -P 16: Redis in memory (no persistence),
# Redis with appendfsync always (as durable as tally), then tally (durable: every reply after its
# group commit's fsync, measured after an untimed warm-up pass). Servers on SERVER_CPU,
# redis-benchmark on CLIENT_CPU (bench/lib.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh" resp "${1:-$root/bench/results/$(date -u +%Y-%m-%d)-resp}"
N=${N:-1000000}
RESP_PORT=18382
incr() { # name port pipeline
  log "$1 -P $3"
  # the leading 1 keeps tally's post ids positive: __rand_int__ is 12 zero-padded digits
  taskset -c "$CLIENT_CPU" redis-benchmark -p "$2" -c "$CONNS" -n "$N" -r 100000 -P "$3" --csv -q \
    INCR "likes:1__rand_int__" | tail -1 | sed "s/^/$1,P$3,/" >> "$out/resp.csv"
}
: > "$out/resp.csv"
redis_start --appendonly no
incr redis-memory $REDIS_PORT 1
incr redis-memory $REDIS_PORT 16
redis_stop
redis_start --appendonly yes --appendfsync always
incr redis-always $REDIS_PORT 1
incr redis-always $REDIS_PORT 16
redis_stop
tally_start "$work/data" --resp-port $RESP_PORT
# an untimed pass first, as every other tally figure is taken after a warm-up: a JVM that has just
# started still compiles its hot paths (a 1M-command -P 16 run is over in a few seconds)
log "tally warm-up, -P 16 then -P 1, untimed"
taskset -c "$CLIENT_CPU" redis-benchmark -p $RESP_PORT -c "$CONNS" -n "$N" -r 100000 -P 16 -q \
  INCR "likes:1__rand_int__" > /dev/null
taskset -c "$CLIENT_CPU" redis-benchmark -p $RESP_PORT -c "$CONNS" -n $((N / 4)) -r 100000 -P 1 -q \
  INCR "likes:1__rand_int__" > /dev/null
incr tally $RESP_PORT 1
incr tally $RESP_PORT 16
tally_stop
{
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"nproc\":$(nproc),"
  echo "\"cpu\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
  echo "\"kernel\":\"$(uname -r)\",\"java\":\"$("$JAVA" -version 2>&1 | head -1 | tr -d '"')\","
  echo "\"redis\":\"$(redis-server --version | awk '{print $3}')\",\"git\":\"$(git -C "$root" rev-parse --short HEAD)\"}"
} > "$out/machine.json"
cat "$out/resp.csv"
