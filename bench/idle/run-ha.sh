#!/bin/sh
# IMAP IDLE sessions through the full topology (issue 14, C4; docs/admin-
# manual.md 4b): the clients at proxy1:993, proxy1 passing every session
# to store1 (pair1's active store), in one run with and without imap-
# hibernate on the store. The small site's figures: bench/idle/run.sh.
# Needs root and the packages of scripts/install-deps.sh; `make bench-idle-ha`
# builds the load client and runs this.
#
# 1. examples/ha-site.yaml up in its own test fabric and state directory.
# 2. IDLE_USERS users (`emailng user add --password-stdin`, one random
#    password for all, each with its own yescrypt hash), all on pair1.
# 3. IDLE_SOURCES client addresses 198.18.0.150... added to the client
#    namespace (Dovecot allows 10 sessions per user and address).
# 4. store1 without hibernation (imap_hibernate_timeout = 0, doveadm
#    reload), idle-load for IDLE_BASELINE_STAGES; then store1 as rendered
#    (imap_hibernate_timeout = 5s, templates/dovecot-store/dovecot.conf) for
#    IDLE_STAGES. Memory and CPU are read per host: proxy1, store1 and
#    store2 (the replica: replication of IDLE sessions is nothing, of the
#    pushed messages little).
# 5. emailng down, the fabric and the state directory removed.
#
# Push latency: one message by LMTP into store1 (its unix socket) to each of
# IDLE_SAMPLE users per stage, from the 250 to the EXISTS in every IDLE
# session of that user, through the proxy.
#
# Tuning (and those of bench/idle/common.sh): IDLE_BASELINE_STAGES (1000;
# empty: none; without hibernation a session costs about 0.9 MiB on the
# store), IDLE_STAGES (1000,5000,10000; empty: none), IDLE_KEEP=1 keeps the
# site up. IDLE_SOURCES is at most 100 (198.18.0.150-249). Use enough users
# that a user's sessions stay under Dovecot's 10 per user and address.
set -eu
cd "$(dirname "$0")/../.."
. bench/idle/common.sh
BASELINE=${IDLE_BASELINE_STAGES-1000}
STAGES=${IDLE_STAGES-1000,5000,10000}
[ "$SOURCES" -le 100 ] || { echo "IDLE_SOURCES: at most 100 (198.18.0.150-249)" >&2; exit 2; }

STATE=$(mktemp -d /tmp/emailng-benchidleha-XXXXXX)
chmod 755 "$STATE"
PREFIX=
cleanup() {
    if [ "${IDLE_KEEP:-}" = 1 ]; then
        echo "kept: $EMAILNG --state $STATE down"
        return
    fi
    idle_save "$STATE" || true
    "$EMAILNG" --state "$STATE" down >/dev/null 2>&1 || true
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t=$(date +%s)
"$EMAILNG" --state "$STATE" up --site "$REPO/examples/ha-site.yaml" >"$STATE/up.log" 2>&1 ||
    { cat "$STATE/up.log"; exit 1; }
PREFIX=$(sed -n 's/.*hosts in the test fabric \([a-z0-9]*\).*/\1/p' "$STATE/up.log" | head -1)
[ -n "$PREFIX" ] || { echo "no fabric prefix in $STATE/up.log" >&2; exit 1; }
echo "full topology up in $(( $(date +%s) - t )) s (fabric $PREFIX, state $STATE)"

idle_add_users "$STATE" '"$EMAILNG" --state "$STATE" user add "$1" --pair pair1 --password-stdin'

CLIENT=$PREFIX-client
i=0
while [ "$i" -lt "$SOURCES" ]; do
    ip -n "$CLIENT" addr add "198.18.0.$((150 + i))/24" dev eth0
    i=$((i + 1))
done

STORE_CONF=$STATE/etc/store1/dovecot/dovecot.conf
hibernate() {   # $1: store1's imap_hibernate_timeout
    sed -i "s/^imap_hibernate_timeout = .*/imap_hibernate_timeout = $1/" "$STORE_CONF"
    ip netns exec "$PREFIX-store1" doveadm -c "$STORE_CONF" reload
    sleep 3
    echo "store1: imap_hibernate_timeout = $(doveconf -c "$STORE_CONF" -h imap_hibernate_timeout)"
}

load() {        # $1: label, $2: stages
    ip netns exec "$CLIENT" "$IDLE_LOAD" --users "$USERLIST" --ca "$STATE/tls/ca.crt" --server 198.18.0.21 \
        --port 993 --tls-name mail.example.test --source 198.18.0.150 --sources "$SOURCES" --stages "$2" \
        --in-flight "$IN_FLIGHT" --sample "$SAMPLE" --settle "$SETTLE" --rest "$REST" --label "$1" \
        --host "proxy1=/run/netns/$PREFIX-proxy1" --host "store1=/run/netns/$PREFIX-store1" \
        --host "store2=/run/netns/$PREFIX-store2" --lmtp "$STATE/run/store1/dovecot/lmtp" --wake-all || true
}

OUT=$STATE/results
if [ -n "$BASELINE" ]; then
    hibernate 0
    load store-awake "$BASELINE" | tee -a "$OUT"
fi
if [ -n "$STAGES" ]; then
    hibernate 5s
    load store-hibernate "$STAGES" | tee -a "$OUT"
fi

echo
echo "== summary (per stage and host: sessions, login rate, PSS added, per session, CPU at rest, push p50/p99)"
grep '^RESULT.*stage=' "$OUT" | sed 's/^RESULT //' | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%-16s %-7s %6d sessions  %5.1f logins/s  +%7.1f MiB  %6.1f KiB/session  imap %5d  hibernate %d  imap-login %d  CPU %4.1f %%  push p50 %.3f s p99 %.3f s (%d missed)\n",
        v["label"], v["host"], v["sessions"], v["login_rate"], v["pss_extra_mib"], v["kib_per_session"], v["imap"],
        v["hibernate"], v["login"], v["cpu_rest_pct"], v["push_p50_s"], v["push_p99_s"], v["push_missing"]
}'
grep '^RESULT.*wake_all=' "$OUT" | sed 's/^RESULT //'
for h in proxy1 store1 store2; do
    echo "$h: $(grep -cE 'process_limit|client_limit|Inotify|fd limit|Too many open' "$STATE/log/$h/dovecot.log" || true) limit messages"
    grep -E 'process_limit|client_limit|Inotify|fd limit|Too many open' "$STATE/log/$h/dovecot.log" | tail -3 || true
done
# A session on store2 means proxy1's monitor switched pair1 during the run.
HEALTHD_LOG=$STATE/log/proxy1/healthd.log
echo "proxy1's monitor: $(grep -c ': active .* -> ' "$HEALTHD_LOG" 2>/dev/null || true) pair switches," \
    "$(grep -c 'store busy' "$HEALTHD_LOG" 2>/dev/null || true) busy stores"
grep ': active .* -> \|store busy' "$HEALTHD_LOG" 2>/dev/null | tail -5 || true
echo "store1:"
idle_wake_report "$STATE/log/store1/dovecot.log"
