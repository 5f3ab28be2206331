#!/bin/sh
# IMAP IDLE sessions on the small site, with and without imap-hibernate, in
# one run (issue 14, C4; docs/admin-manual.md 4b). Needs root (a network
# namespace) and the packages of scripts/install-deps.sh; `make bench-idle`
# builds the load client (bench/idle/idle_load.c) and runs this.
#
# 1. A small site (emailng up) in its own network namespace and state
#    directory; every 127.x address is local there, so the clients come
#    from IDLE_SOURCES addresses 127.0.20.1... without any setup.
# 2. IDLE_USERS users made with `emailng user add --password-stdin`, two at
#    a time, all with the same (random) password: the hash is still one
#    yescrypt per user with its own salt, so each LOGIN costs what a real
#    one does; only the bench's bookkeeping is simpler.
# 3. The baseline: imap_hibernate_timeout = 0 (no hibernation, one imap
#    process per session) in the rendered session-limits.conf, doveadm
#    reload, idle-load for IDLE_BASELINE_STAGES; then the setting back,
#    reload, idle-load for IDLE_STAGES (the template's 5 s).
# 4. emailng down, the namespace and the state directory removed.
#
# Push latency: one message by LMTP to each of IDLE_SAMPLE users per stage
# (Dovecot's delivery and push, what hibernation changes; the relay's
# content filter is measured by bench/filter), from the LMTP server's 250 to
# the EXISTS in each of the user's IDLE sessions. At the end of each run,
# DONE to every session at once (wake-all): what every client ending IDLE
# together, or one message to every user, costs.
#
# Tuning (and those of bench/idle/common.sh: users, addresses, sample):
# IDLE_STAGES (1000,5000,10000), IDLE_BASELINE_STAGES (1000; empty: none),
# IDLE_KEEP=1 keeps the site up and prints how to reach it;
# IDLE_CONF_EXTRA: Dovecot settings appended to the rendered
# session-limits.conf before the runs (to measure a tuning, e.g.
# 'service imap { service_count = 100 }').
set -eu
cd "$(dirname "$0")/../.."
. bench/idle/common.sh
STAGES=${IDLE_STAGES:-1000,5000,10000}
BASELINE=${IDLE_BASELINE_STAGES-1000}

NS=emailng-benchidle-$$
STATE=$(mktemp -d /tmp/emailng-benchidle-XXXXXX)
chmod 755 "$STATE"
CONF=$STATE/etc/mail/dovecot
in_ns() { ip netns exec "$NS" "$@"; }
cleanup() {
    if [ "${IDLE_KEEP:-}" = 1 ]; then
        echo "kept: ip netns exec $NS ...; $EMAILNG --state $STATE down; ip netns del $NS"
        return
    fi
    idle_save "$STATE" || true
    in_ns "$EMAILNG" down --state "$STATE" >/dev/null 2>&1 || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
t=$(date +%s)
in_ns "$EMAILNG" up --state "$STATE" >"$STATE/up.log" 2>&1 || { cat "$STATE/up.log"; exit 1; }
echo "site up in $(( $(date +%s) - t )) s (state $STATE)"

idle_add_users "$STATE" 'ip netns exec "$NS" "$EMAILNG" user add "$1" --password-stdin --state "$STATE"'

if [ -n "${IDLE_CONF_EXTRA:-}" ]; then
    printf '\n# bench/idle/run.sh IDLE_CONF_EXTRA\n%s\n' "$IDLE_CONF_EXTRA" >>"$CONF/session-limits.conf"
    echo "session-limits.conf + $IDLE_CONF_EXTRA"
fi

hibernate() {   # $1: the imap_hibernate_timeout to run with
    sed -i "s/^imap_hibernate_timeout = .*/imap_hibernate_timeout = $1/" "$CONF/session-limits.conf"
    in_ns doveadm -c "$CONF/dovecot.conf" reload
    sleep 3
    echo "imap_hibernate_timeout = $(doveconf -c "$CONF/dovecot.conf" -h imap_hibernate_timeout)"
}

load() {        # $1: label, $2: stages
    in_ns "$IDLE_LOAD" --users "$USERLIST" --ca "$STATE/tls/ca.crt" --server 127.0.0.1 --port 993 \
        --tls-name mail.example.test --source 127.0.20.1 --sources "$SOURCES" --stages "$2" \
        --in-flight "$IN_FLIGHT" --sample "$SAMPLE" --settle "$SETTLE" --rest "$REST" --host mail --label "$1" \
        --lmtp "$STATE/run/mail/dovecot/lmtp" --wake-all || true
}

OUT=$STATE/results
if [ -n "$BASELINE" ]; then
    hibernate 0
    load no-hibernate "$BASELINE" | tee -a "$OUT"
fi
hibernate 5s
load hibernate "$STAGES" | tee -a "$OUT"

echo
echo "== summary (per stage: sessions, login rate, host PSS added, per session, CPU at rest, push p50/p99)"
grep '^RESULT.*stage=' "$OUT" | sed 's/^RESULT //' | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%-13s %6d sessions  %5.1f logins/s  +%7.1f MiB  %6.1f KiB/session  imap %5d (%.0f MiB)  hibernate %d (%.0f MiB)  imap-login %d (%.0f MiB)  CPU %4.1f %%  push p50 %.3f s p99 %.3f s (%d sessions, %d missed)\n",
        v["label"], v["sessions"], v["login_rate"], v["pss_extra_mib"], v["kib_per_session"], v["imap"], v["imap_pss_mib"],
        v["hibernate"], v["hibernate_pss_mib"], v["login"], v["login_pss_mib"], v["cpu_rest_pct"], v["push_p50_s"], v["push_p99_s"], v["push_sessions"], v["push_missing"]
}'
grep '^RESULT.*wake_all=' "$OUT" | sed 's/^RESULT //'
grep -E "process_limit|client_limit|Inotify|fd limit|Too many open" "$STATE/log/mail/dovecot.log" | tail -5 || true
idle_wake_report "$STATE/log/mail/dovecot.log"
