#!/bin/sh
# emailng-policyd benchmark (see bench.py). Needs root (nsd on 127.0.0.153:53,
# a private mount namespace for policyd-spf's resolv.conf) and the packages
# of scripts/install-deps.sh. BENCH_SECONDS, BENCH_CONNS ("10 50"),
# BENCH_WARMUP, BENCH_IDLE, BENCH_PIN (0: no CPU pinning) tune it; LOADGEN
# is the load generator (built by `make policyd-bench`).
set -eu
cd "$(dirname "$0")/../.."
[ -x build/emailng-policyd ] || make build/emailng-policyd
export LOADGEN="${LOADGEN:-$PWD/build/policyd-loadgen}"
[ -x "$LOADGEN" ] || cc -O2 -g -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$LOADGEN" bench/policyd/loadgen.c
exec /usr/bin/python3 bench/policyd/bench.py
