#!/usr/bin/env bash
# Runs every fault scenario N times (different seeds) and writes docs/reliability.md from the rows
# the scenarios report (*/target/reliability/*.md), summed over the runs. Every number in that file
# comes from this run. A run in which a scenario fails counts as a failed run of it.
#   bench/reliability.sh [--runs N] [--more] [--out DIR]   (default 1 round; one round ≈ 6 min)
# Each round's rows, failures and commit are kept in bench/results/<date>-reliability/; --more adds
# N rounds to the rounds already there (e.g. twenty rounds in blocks), and the report sums them all
# and names every commit they ran at. --out picks the results directory (for --more on another day).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bin/java-home"
cd "$root"

runs=1
more=false
out="bench/results/$(date -u +%F)-reliability"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --more) more=true; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: bench/reliability.sh [--runs N] [--more] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs needs a positive number" >&2; exit 2 ;; esac

server_its='DiskFullIT,SlotMigrationIT'
bench_its='SingleNodeKillIT,ClusterNodeKillIT,RedisFailoverIT,RedisUnreachableIT,RegionPartitionIT,PausedNodeIT,OverloadIT'
if ! $more; then
  rm -rf "$out"
fi
mkdir -p "$out"
first=$(find "$out" -name 'round-*.md' | wc -l)
./mvnw -q -B -DskipTests -DskipITs install -pl tally-server,tally-bench -am >/dev/null

for ((run = first; run < first + runs; run++)); do
  echo "round $((run + 1)) of $((first + runs))" >&2
  commit=$(git rev-parse --short HEAD)
  # a round of uncommitted code says so
  git diff --quiet HEAD -- . ':!bench/results' ':!docs/reliability.md' || commit="$commit+changes"
  echo "$commit" > "$out/round-$run.commit"
  rm -rf tally-bench/target/reliability tally-server/target/reliability \
    tally-bench/target/failsafe-reports tally-server/target/failsafe-reports
  ./mvnw -q -B verify -pl tally-server,tally-bench -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dit.test="$server_its,$bench_its" -Dfailsafe.failIfNoSpecifiedTests=false \
    -Dmaven.test.failure.ignore=true -Dtally.fault.run="$run" > "$out/round-$run.log" 2>&1 || true
  cat tally-bench/target/reliability/*.md tally-server/target/reliability/*.md 2>/dev/null \
    > "$out/round-$run.md" || true
  # scenario classes that failed or errored in this round
  grep -lE '(failures|errors)="[1-9]' tally-*/target/failsafe-reports/TEST-*.xml 2>/dev/null \
    | sed -E 's/.*TEST-(.*)\.xml/\1/' > "$out/round-$run.failed" || true
done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
python3 - "$out" "$(nproc)" "$cpu" > docs/reliability.md <<'PY'
import glob, os, re, sys, datetime
out, cores, cpu = sys.argv[1], sys.argv[2], sys.argv[3]
runs = len(glob.glob(os.path.join(out, "round-*.md")))
commits = []
for run in range(runs):
    path = os.path.join(out, f"round-{run}.commit")
    c = open(path).read().strip() if os.path.exists(path) else "?"
    if c not in commits:
        commits.append(c)
classes = {  # scenario number -> the test class that reports it
    1: "SingleNodeKillIT", 2: "ClusterNodeKillIT", 3: "RedisFailoverIT", 4: "RedisUnreachableIT",
    5: "RegionPartitionIT", 6: "DiskFullIT", 7: "PausedNodeIT", 8: "SlotMigrationIT", 9: "OverloadIT"}
rows = {}   # (number, mode) -> aggregate
failed = {n: 0 for n in classes}
for run in range(runs):
    for name in open(os.path.join(out, f"round-{run}.failed")).read().split():
        for n, c in classes.items():
            if name.endswith("." + c):
                failed[n] += 1
    for line in open(os.path.join(out, f"round-{run}.md")):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 7 or not re.match(r"\d+\.", cells[0]):
            continue
        number = int(cells[0].split(".")[0])
        seed = re.search(r"\(seed (\d+)\)", cells[0])
        text = re.sub(r" ?\(seed \d+\)", "", cells[0])
        mode = re.search(r"`--idempotency (\w+)`", text)
        key = (number, mode.group(1) if mode else "")
        r = rows.setdefault(key, {"text": text, "runs": 0, "ops": 0, "acked": 0, "lost": 0,
                                  "dup": 0, "seeds": [], "note": ""})
        r["runs"] += 1
        r["ops"] += int(cells[2]); r["acked"] += int(cells[3])
        r["lost"] += int(cells[4]); r["dup"] += int(cells[5])
        if seed:
            r["seeds"].append(int(seed.group(1)))
        r["note"] = " | ".join(cells[6:])
        r["text"] = text  # the last run's wording, like its note
print("""# Reliability

Produced by `bench/reliability.sh` in %d rounds (the fault scenarios `SingleNodeKillIT`,
`ClusterNodeKillIT`, `RedisFailoverIT`, `RedisUnreachableIT`, `RegionPartitionIT`, `DiskFullIT`,
`PausedNodeIT`, `SlotMigrationIT` and `OverloadIT`, each also run once by `bin/test`), not typed
by hand. Each scenario runs a real write load (every increment carries an idempotency key, except
in the overload, where a refusal changes nothing), injects its fault, heals, retries the writes
left in doubt with their keys, and compares every counter with the history: "lost" counts
acknowledged increments missing from the final count, "duplicated" increments counted more than
once. Every round runs each scenario with another seed; a failed run is one whose test failed, and
it adds no row to the sums. Seeds make a failing run replayable (`-Dtally.fault.seed=…`).
Cluster scenarios run their nodes with `--idempotency strict` unless the row says otherwise.

| scenario (as in the last run) | runs | failed runs | operations | acknowledged | lost | duplicated | last run |
|---|---|---|---|---|---|---|---|""" % runs)
lines = []
for (number, mode) in rows:
    r = rows[(number, mode)]
    seeds = sorted(r["seeds"])
    text = r["text"]
    if len(seeds) == 1:
        text += " (seed %d)" % seeds[0]
    elif len(seeds) == 2:
        text += " (seeds %d, %d)" % tuple(seeds)
    elif seeds:
        text += " (seeds %d, %d, …, %d)" % (seeds[0], seeds[1], seeds[-1])
    lines.append(((number, mode), "| %s | %d | %d | %d | %d | %d | %d | %s |" % (
        text, r["runs"], failed[number], r["ops"], r["acked"], r["lost"], r["dup"], r["note"])))
for n in classes:
    if not any(k[0] == n for k in rows):
        lines.append(((n, ""), "| %d. (`%s`) | 0 | %d | | | | | no run passed |" % (
            n, classes[n], failed[n])))
for _, line in sorted(lines):
    print(line)
print()
print("Run on %s, %s cores, %s, %s %s; %d rounds." % (
    datetime.date.today().isoformat(), cores, cpu,
    "commit" if len(commits) == 1 else "commits", ", ".join(commits), runs))
PY
echo "wrote docs/reliability.md (rounds in $out)" >&2
