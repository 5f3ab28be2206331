#!/bin/sh
# bench/ha/up-time.sh: how long `emailng up` of the full topology takes
# (examples/ha-site.yaml in the test fabric, from nothing and again with
# everything up), and `down`. Run as root from the repository after `make`.
#   sh bench/ha/up-time.sh [RUNS]        (default 3)
set -eu
runs=${1:-3}
repo=$(cd "$(dirname "$0")/../.." && pwd)
emailng="$repo/build/emailng"
export EMAILNG_DATADIR="$repo"
now() { date +%s.%N; }
for i in $(seq "$runs"); do
    state=$(mktemp -d /tmp/emailng-bench-ha-XXXXXX)
    t0=$(now)
    "$emailng" --state "$state" up --site "$repo/examples/ha-site.yaml" > "$state.up.log" 2>&1 ||
        { echo "up failed, see $state.up.log"; exit 1; }
    t1=$(now)
    "$emailng" --state "$state" up > "$state.up2.log" 2>&1 || { echo "second up failed"; exit 1; }
    t2=$(now)
    "$emailng" --state "$state" down > "$state.down.log" 2>&1 || { echo "down failed"; exit 1; }
    t3=$(now)
    printf 'run %d: up from nothing %.1f s, up when up %.1f s, down %.1f s\n' "$i" \
        "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)"
    rm -rf "$state" "$state".*.log
done
