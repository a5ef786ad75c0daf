#!/usr/bin/env bash
# Starts or stops a local 6-node Redis Cluster (3 primaries, 3 replicas) on 127.0.0.1 for
# development and tests. Safe to rerun: `up` first stops whatever an earlier `up` left in DIR.
#
#   deploy/redis-cluster.sh up   DIR [BASE_PORT]   # ports BASE_PORT..BASE_PORT+5 (default 17000)
#   deploy/redis-cluster.sh down DIR [BASE_PORT]   # stops the nodes and removes DIR
# NODE_TIMEOUT_MS (default 2000, so that tests see failovers quickly) is cluster-node-timeout.
# REDIS_DAEMONIZE (default yes): with "no" the nodes are started in the background of the caller's
# session instead of as daemons (each of which gets a session of its own), so that they share the
# caller's scheduling group (Linux autogroup). Benchmarks that pin Redis and tally nodes to one
# core use it: as daemons, on a core the nodes keep busy, this kernel left a runnable Redis unrun
# for seconds at a time (docs/performance-notes.md, "Redis starved by the scheduler").
set -euo pipefail

usage() {
  echo "usage: $0 up|down DIR [BASE_PORT]" >&2
  exit 2
}
(($# >= 2 && $# <= 3)) || usage
cmd=$1
dir=$2
base=${3:-17000}
[[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base + 5 <= 55535)) || {
  echo "BASE_PORT must be a number in 1024..55530 (cluster bus ports are PORT+10000)" >&2
  exit 2
}
if ((base <= 6379 && 6379 <= base + 5)); then
  echo "refusing to use port 6379 (a default Redis may run there)" >&2
  exit 2
fi
nodes=6
wait_secs=${REDIS_CLUSTER_WAIT_SECS:-30}

ports() { seq "$base" $((base + nodes - 1)); }

stop_nodes() {
  local p pidfile pid
  for p in $(ports); do
    pidfile=$dir/$p/redis.pid
    [[ -f $pidfile ]] || continue
    redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $pid ]]; then
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      # only a process that is still the redis-server we started is killed
      if kill -0 "$pid" 2>/dev/null && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$pidfile"
  done
}

case $cmd in
  up)
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
      echo "redis-server and redis-cli are needed (Debian: redis-server, redis-tools)" >&2
      exit 1
    }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_nodes
    for p in $(ports); do
      if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is already in use" >&2
        exit 1
      fi
    done
    for p in $(ports); do
      rm -rf "${dir:?}/$p"
      mkdir -p "$dir/$p"
      args=(--port "$p" --bind 127.0.0.1 --dir "$dir/$p"
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "${NODE_TIMEOUT_MS:-2000}"
        --appendonly yes --save "" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log")
      case ${REDIS_DAEMONIZE:-yes} in
        yes) redis-server "${args[@]}" --daemonize yes ;;
        no) redis-server "${args[@]}" --daemonize no </dev/null >/dev/null 2>&1 & ;;
        *) echo "REDIS_DAEMONIZE must be yes or no" >&2; exit 2 ;;
      esac
    done
    for p in $(ports); do
      ok=""
      for _ in $(seq $((wait_secs * 10))); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null) == PONG ]]; then ok=1; break; fi
        sleep 0.1
      done
      [[ -n $ok ]] || { echo "redis on port $p did not start (see $dir/$p/redis.log)" >&2; exit 1; }
    done
    addrs=()
    for p in $(ports); do addrs+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || {
      echo "cluster create failed:" >&2
      cat "$dir/create.log" >&2
      exit 1
    }
    deadline=$((SECONDS + wait_secs))
    for p in $(ports); do
      until redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; do
        if ((SECONDS >= deadline)); then
          echo "node $p did not reach cluster_state:ok within ${wait_secs}s" >&2
          exit 1
        fi
        sleep 0.2
      done
    done
    echo "redis cluster up: ${addrs[*]}"
    ;;
  down)
    if [[ -d $dir ]]; then
      stop_nodes
      rm -rf "$dir"
    fi
    echo "redis cluster down"
    ;;
  *) usage ;;
esac
