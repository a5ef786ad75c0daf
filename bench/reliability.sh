#!/usr/bin/env bash
# Runs the fault suite and writes docs/reliability.md from the rows the scenarios report
# (*/target/reliability/*.md). Every number in that file comes from this run.
#   bench/reliability.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bin/java-home"
cd "$root"
rm -rf tally-bench/target/reliability tally-server/target/reliability
./mvnw -q -B verify -pl tally-server,tally-bench -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test='SingleNodeKillIT,ClusterNodeKillIT,RedisFailoverIT,RedisUnreachableIT,RegionPartitionIT,DiskFullIT' -Dfailsafe.failIfNoSpecifiedTests=false
{
  cat <<'HEAD'
# Reliability

Produced by `bench/reliability.sh` (the fault scenarios `SingleNodeKillIT`, `ClusterNodeKillIT`,
`RedisFailoverIT`, `RedisUnreachableIT`, `RegionPartitionIT` and `DiskFullIT`, also run by
`bin/test`), not typed by hand. Each scenario runs a real write load in which every increment carries an idempotency key,
injects its fault, heals, retries the writes left in doubt with their keys, and compares every
counter with the history: "lost" counts acknowledged increments missing from the final count,
"duplicated" increments counted more than once. Seeds make a failing run replayable.

| scenario | runs | operations | acknowledged | lost | duplicated | recovery / convergence |
|---|---|---|---|---|---|---|
HEAD
  # one row per scenario, in scenario order ("| 4. …")
  cat tally-bench/target/reliability/*.md tally-server/target/reliability/*.md | sort -t'|' -k2,2n
  echo
  echo "Run on $(date -u +%F), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), commit $(git rev-parse --short HEAD)."
} > docs/reliability.md
echo "wrote docs/reliability.md" >&2
