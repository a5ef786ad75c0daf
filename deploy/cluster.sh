#!/usr/bin/env bash
# Starts or stops a local tally cluster on 127.0.0.1: a 6-node Redis Cluster (deploy/redis-cluster.sh),
# three tally nodes sharing counts through it, and HAProxy in front of them (deploy/haproxy.cfg).
#
#   deploy/cluster.sh up   DIR [BASE_PORT]   # prints the URL to use; BASE_PORT defaults to 8000
#   deploy/cluster.sh down DIR               # stops everything started in DIR and removes DIR
#
# Ports, from BASE_PORT (B):
#   B           HAProxy: the cluster's address for clients
#   B+1         HAProxy stats page (CSV at /;csv)
#   B+11..B+13  tally nodes n1..n3 (each can be used directly too)
#   B+100..+105 Redis Cluster (cluster bus ports +10000)
# DIR holds each node's data directory and log (nN/, nN.log), HAProxy's log and admin socket, and
# Redis (redis/). `up` on a DIR that holds a cluster first stops it and starts afresh, empty; a
# DIR that holds anything else is refused, never emptied.
# Nodes take every other option from TALLY_* environment variables (see `bin/tally --help`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH=$PATH:/usr/sbin:/sbin

usage() {
  echo "usage: $0 up DIR [BASE_PORT] | down DIR" >&2
  exit 2
}
(($# >= 2 && $# <= 3)) || usage
cmd=$1
dir=$2
base=${3:-8000}
[[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base + 105 + 10000 <= 65535)) || {
  echo "BASE_PORT must be a number in 1024..55430 (Redis uses BASE_PORT+100..105 and +10000)" >&2
  exit 2
}
if ((base <= 6379 && 6379 <= base + 105)); then
  echo "refusing BASE_PORT $base: its ports would include 6379 (a default Redis may run there)" >&2
  exit 2
fi
if [[ $1 == up && -r /proc/sys/net/ipv4/ip_local_port_range ]] &&
  ((base + 10105 >= $(cut -f1 /proc/sys/net/ipv4/ip_local_port_range))); then
  echo "warning: Redis bus ports $((base + 10100))..$((base + 10105)) are in the ephemeral port range;" \
    "an outgoing connection may hold one (pick BASE_PORT <= $(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 10106)))" >&2
fi
wait_secs=${TALLY_CLUSTER_WAIT_SECS:-60}
nodes=(n1 n2 n3)
marker=.tally-cluster

# true when DIR is absent, empty, or was made by this script
ours() { [[ ! -d $dir || -f $dir/$marker || -z $(ls -A "$dir") ]]; }

node_port() { echo $((base + 11 + $1)); }

# Stops the process in pidfile $1 if it is still the command matching $2: SIGTERM, then SIGKILL
# after $3 seconds. Never signals a pid that has been reused by something else.
stop_pid() {
  local pidfile=$1 pattern=$2 grace=$3 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ -n $pid ]] && is_running "$pid" "$pattern"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((grace * 10))); do
      is_running "$pid" "$pattern" || break
      sleep 0.1
    done
    if is_running "$pid" "$pattern"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

# true when process $1 exists and its command line contains $2
is_running() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q -- "$2"; }

stop_all() {
  [[ -d $dir ]] || return 0
  stop_pid "$dir/haproxy.pid" haproxy 5
  local n
  for n in "${nodes[@]}"; do
    stop_pid "$dir/$n.pid" tally.jar 15 &
  done
  wait
  if [[ -f $dir/redis/base-port ]]; then
    "$root/deploy/redis-cluster.sh" down "$dir/redis" "$(cat "$dir/redis/base-port")" >/dev/null
  fi
}

port_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until $1 answers 200, or fails pointing at log $2.
await_ready() {
  local url=$1 log=$2 deadline=$((SECONDS + wait_secs))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true) == 200 ]]; do
    if ((SECONDS >= deadline)); then
      echo "$url not ready within ${wait_secs}s; see $log" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

case $cmd in
  up)
    for c in redis-server redis-cli haproxy curl setsid; do
      command -v "$c" >/dev/null || {
        echo "$c is needed (Debian: bin/test-deps installs it)" >&2
        exit 1
      }
    done
    ours || { echo "$dir holds files this script did not make: not touching it" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_all
    find "$dir" -mindepth 1 -delete
    touch "$dir/$marker"
    for p in "$base" $((base + 1)) $(node_port 0) $(node_port 1) $(node_port 2); do
      port_free "$p" || { echo "port $p is already in use" >&2; exit 1; }
    done

    redis_base=$((base + 100))
    mkdir -p "$dir/redis"
    # recorded first, so that `down` stops whatever a failed `up` left running
    echo "$redis_base" >"$dir/redis/base-port"
    "$root/deploy/redis-cluster.sh" up "$dir/redis" "$redis_base" >/dev/null
    seeds=$(seq -s, -f "127.0.0.1:%g" "$redis_base" $((redis_base + 5)))

    # builds tally.jar once if the sources changed, before three nodes start at the same time
    "$root/bin/tally" --help >/dev/null
    for i in 0 1 2; do
      n=${nodes[$i]}
      mkdir -p "$dir/$n"
      setsid "$root/bin/tally" --host 127.0.0.1 --port "$(node_port "$i")" --data-dir "$dir/$n" \
        --redis "$seeds" --trusted-proxies 127.0.0.1 </dev/null >"$dir/$n.log" 2>&1 &
      echo $! >"$dir/$n.pid"
    done
    for i in 0 1 2; do
      await_ready "http://127.0.0.1:$(node_port "$i")/health/ready" "$dir/${nodes[$i]}.log"
    done

    TALLY_LB_DIR=$dir TALLY_LB_BIND=127.0.0.1:$base TALLY_LB_STATS=127.0.0.1:$((base + 1)) \
      TALLY_NODE1=127.0.0.1:$(node_port 0) TALLY_NODE2=127.0.0.1:$(node_port 1) \
      TALLY_NODE3=127.0.0.1:$(node_port 2) \
      setsid haproxy -db -f "$root/deploy/haproxy.cfg" </dev/null >"$dir/haproxy.log" 2>&1 &
    echo $! >"$dir/haproxy.pid"
    # ready once HAProxy's checks have seen every node up (2 checks, about 1 s)
    deadline=$((SECONDS + wait_secs))
    until (($(curl -s --max-time 2 "http://127.0.0.1:$((base + 1))/;csv" 2>/dev/null |
      grep -c '^post_writes,n[123],.*,UP,') == 3)); do
      if ((SECONDS >= deadline)); then
        echo "HAProxy did not see all three nodes up within ${wait_secs}s; see $dir/haproxy.log" >&2
        tail -n 20 "$dir/haproxy.log" >&2 || true
        exit 1
      fi
      sleep 0.2
    done
    await_ready "http://127.0.0.1:$base/health/ready" "$dir/haproxy.log"

    echo "redis cluster: $seeds"
    for i in 0 1 2; do
      echo "node ${nodes[$i]}: http://127.0.0.1:$(node_port "$i")  (log $dir/${nodes[$i]}.log)"
    done
    echo "haproxy stats: http://127.0.0.1:$((base + 1))/"
    echo "tally cluster up: http://127.0.0.1:$base"
    ;;
  down)
    ours || { echo "$dir holds files this script did not make: not touching it" >&2; exit 1; }
    if [[ -d $dir ]]; then
      stop_all
      rm -rf "$dir"
    fi
    echo "tally cluster down"
    ;;
  *) usage ;;
esac
