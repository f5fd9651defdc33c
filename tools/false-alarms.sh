#!/usr/bin/env bash
# How often does `odbench compare` cry wolf? Runs the same build N+1 times
# with --count 5 and compares every rerun with the first at the default
# tolerance. A rerun that exits 1 is a false alarm.
#   tools/false-alarms.sh [reruns] [scenarios]
set -euo pipefail
cd "$(dirname "$0")/.."
reruns=${1:-10}
scenarios=${2:-api/health_check/clients=16,consensus/apply/clients=8/value=128B,inference/generate/clients=16}
dir=$(mktemp -d /tmp/odbench-false-alarms-XXXXXX)
go build -o "$dir/odbench" ./cmd/odbench
run() { "$dir/odbench" run --profile quick --scenarios "$scenarios" --count 5 --results-dir "$1" "${@:2}" >/dev/null 2>&1; }
run "$dir/base"
alarms=0
for i in $(seq 1 "$reruns"); do
  set +e
  run "$dir/r$i" --baseline "$dir/base"
  code=$?
  set -e
  if [ "$code" = 1 ]; then
    alarms=$((alarms + 1))
    echo "rerun $i: false alarm"
    "$dir/odbench" compare "$dir/base" "$dir/r$i" | grep REGRESSION || true
  else
    echo "rerun $i: exit $code"
  fi
done
echo "false alarms: $alarms of $reruns reruns (results in $dir)"
