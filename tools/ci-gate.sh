#!/usr/bin/env bash
# Does the `ci` profile gate well? Runs N rounds on one build, each round
#   A: odbench run --profile ci                       (the baseline)
#   B: odbench run --profile ci                       (the same build again)
#   S: odbench run --profile ci with nodes that add EXTRA to every API request
# interleaved, so the machine's drift hits all three alike, then
#   compare A B: exit 1 is a false alarm
#   compare A S: exit 1 is the planted slowdown caught
#   tools/ci-gate.sh [rounds] [extra]        (defaults: 10 rounds, 50us)
# 50 µs is about 20% of the p50 of the ci profile's API scenarios (0.2-0.3 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
extra=${2:-50us}
dir=$(mktemp -d /tmp/odbench-ci-gate-XXXXXX)
go build -o "$dir/odbench" ./cmd/odbench
run() { "$dir/odbench" run --profile ci --results-dir "$1" >"$1.log" 2>&1; }
alarms=0
caught=0
for i in $(seq 1 "$rounds"); do
  run "$dir/a$i"
  run "$dir/b$i"
  ODBENCH_CLUSTER_LOCAL_EXTRA_ARGS="--debug-extra-latency,$extra" run "$dir/s$i"
  set +e
  "$dir/odbench" compare "$dir/a$i" "$dir/b$i" >"$dir/ab$i.txt" 2>&1
  ab=$?
  "$dir/odbench" compare "$dir/a$i" "$dir/s$i" >"$dir/as$i.txt" 2>&1
  as=$?
  set -e
  [ "$ab" = 1 ] && alarms=$((alarms + 1))
  [ "$as" = 1 ] && caught=$((caught + 1))
  echo "round $i: same build exit $ab ($(grep -c REGRESSION "$dir/ab$i.txt" || true) regressions), planted $extra exit $as ($(grep -c REGRESSION "$dir/as$i.txt" || true) regressions)"
done
echo "false alarms: $alarms of $rounds; planted slowdown ($extra) caught: $caught of $rounds (results in $dir)"
