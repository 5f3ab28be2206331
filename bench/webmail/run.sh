#!/bin/sh
# Webmail benchmark (bench.py): login-to-inbox time, inbox-view requests/s
# with 20 concurrent sessions, nginx + php-fpm memory, each beside a static
# nginx file. Needs root and the packages of scripts/install-deps.sh.
# BENCH_SESSIONS, BENCH_SECONDS, BENCH_LOGINS, BENCH_MESSAGES tune it.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/emailng ] || make
exec /usr/bin/python3 bench/webmail/bench.py
