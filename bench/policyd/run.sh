#!/bin/sh
# emailng-policyd benchmark (see bench.py). Needs root (nsd on 127.0.0.153:53,
# a private mount namespace for policyd-spf's resolv.conf) and the packages
# of scripts/install-deps.sh. BENCH_SECONDS, BENCH_CONNS, BENCH_IDLE tune it.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/emailng-policyd ] || make build/emailng-policyd
exec /usr/bin/python3 bench/policyd/bench.py
