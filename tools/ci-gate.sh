#!/usr/bin/env bash
# Does the `ci` profile gate well? Runs N rounds on one build, each round
#   A: odbench run --profile ci                       (the baseline)
#   B: odbench run --profile ci                       (the same build again)
#   S: odbench run --profile ci with nodes that add EXTRA to every API request
# interleaved, so the machine's drift hits all three alike, then
#   compare A B: exit 1 is a false alarm
#   compare A S: exit 1 is the planted slowdown caught
# each judged at the profile's alpha (0.01) and again at --alpha 0.05.
#   tools/ci-gate.sh [rounds] [extra]        (defaults: 10 rounds, 50us)
# 50 µs is about 20% of the p50 of the ci profile's API scenarios (0.2-0.3 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
extra=${2:-50us}
dir=$(mktemp -d /tmp/odbench-ci-gate-XXXXXX)
go build -o "$dir/odbench" ./cmd/odbench
run() { "$dir/odbench" run --profile ci --results-dir "$1" >"$1.log" 2>&1; }
declare -A alarms caught
for a in 0.01 0.05; do alarms[$a]=0; caught[$a]=0; done
for i in $(seq 1 "$rounds"); do
  run "$dir/a$i"
  run "$dir/b$i"
  ODBENCH_CLUSTER_LOCAL_EXTRA_ARGS="--debug-extra-latency,$extra" run "$dir/s$i"
  for a in 0.01 0.05; do
    set +e
    "$dir/odbench" compare --wide --alpha "$a" "$dir/a$i" "$dir/b$i" >"$dir/ab$i-$a.txt" 2>&1
    ab=$?
    "$dir/odbench" compare --wide --alpha "$a" "$dir/a$i" "$dir/s$i" >"$dir/as$i-$a.txt" 2>&1
    as=$?
    set -e
    [ "$ab" = 1 ] && alarms[$a]=$((alarms[$a] + 1))
    [ "$as" = 1 ] && caught[$a]=$((caught[$a] + 1))
    echo "round $i, alpha $a: same build exit $ab ($(grep -c REGRESSION "$dir/ab$i-$a.txt" || true) regressions), planted $extra exit $as ($(grep -c REGRESSION "$dir/as$i-$a.txt" || true) regressions)"
  done
done
for a in 0.01 0.05; do
  echo "alpha $a: false alarms ${alarms[$a]} of $rounds; planted slowdown ($extra) caught ${caught[$a]} of $rounds"
done
echo "results in $dir"
