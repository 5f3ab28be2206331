# Shared by bench/idle/run.sh (small site) and bench/idle/run-ha.sh (full
# topology), sourced from the repository's top directory: the settings both
# read, the bench users, and the report of what a wake-up lost.
#
# Settings (environment): EMAILNG, IDLE_LOAD (the binaries), IDLE_USERS
# (1000), IDLE_SOURCES (100 client addresses), IDLE_SAMPLE (50 users get a
# message per stage), IDLE_IN_FLIGHT (64 logins at a time), IDLE_SETTLE (10:
# seconds between the last session in IDLE and the measurements: longer than
# imap_hibernate_timeout, so that all have hibernated), IDLE_REST (10: seconds
# of CPU at rest measured; the push follows), IDLE_SAVE (a directory: the
# hosts' logs and the results are copied there before the state directory
# is removed).

REPO=$PWD
EMAILNG=${EMAILNG:-$REPO/build/emailng}
IDLE_LOAD=${IDLE_LOAD:-$REPO/build/idle-load}
export EMAILNG_DATADIR=${EMAILNG_DATADIR:-$REPO}
USERS=${IDLE_USERS:-1000}
SOURCES=${IDLE_SOURCES:-100}
SAMPLE=${IDLE_SAMPLE:-50}
IN_FLIGHT=${IDLE_IN_FLIGHT:-64}
SETTLE=${IDLE_SETTLE:-10}
REST=${IDLE_REST:-10}
[ -x "$EMAILNG" ] && [ -x "$IDLE_LOAD" ] || { echo "run: make all build/idle-load first" >&2; exit 2; }

# idle_save STATE: the logs and results kept in IDLE_SAVE, if set.
idle_save() {
    [ -n "${IDLE_SAVE:-}" ] || return 0
    mkdir -p "$IDLE_SAVE" && cp -r "$1/log" "$IDLE_SAVE/" && cp "$1/results" "$IDLE_SAVE/" 2>/dev/null
    echo "logs and results saved in $IDLE_SAVE"
}

# idle_add_users STATE ADD: USERS users idle1@example.test ... in
# STATE/bench-users ("address password" lines, only root reads it), all with
# one random password: the hash is still one yescrypt per user with its own
# salt, so each LOGIN costs what a real one does. ADD is the shell command
# that adds user "$1" with the password on its standard input (it may use
# $EMAILNG, $STATE and $NS); two run at a time.
idle_add_users() {
    PASSWORD=Bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    USERLIST=$1/bench-users
    umask 077
    : >"$USERLIST"
    i=1
    while [ "$i" -le "$USERS" ]; do
        echo "idle$i@example.test $PASSWORD" >>"$USERLIST"
        i=$((i + 1))
    done
    umask 022
    t=$(date +%s)
    cut -d' ' -f1 "$USERLIST" | PASSWORD=$PASSWORD EMAILNG=$EMAILNG STATE=$1 NS=${NS:-} \
        xargs -P 2 -n 1 sh -c 'printf "%s\n" "$PASSWORD" | '"$2"' >/dev/null' user-add
    echo "$USERS users added in $(( $(date +%s) - t )) s"
}

# idle_wake_report LOG: why woken sessions were closed, from a Dovecot log
# of a host that hibernates: imap-hibernate's own errors by reason, then the
# imap processes' errors. imap-hibernate gives up on a session whose client
# sent input (DONE) when it cannot connect to the imap-master socket within
# 10 s (its listen queue full: "net_connect_unix(...) failed: Resource
# temporarily unavailable"), on one whose new imap process has not answered
# within 30 s ("Timeout communicating with imap-master"), and on one whose
# imap process closed the connection before taking the session
# ("Connection closed"). Both times are compiled into Dovecot 2.3.
idle_wake_report() {
    echo "unhibernate failures: $(grep -c ': Error: Failed to unhibernate client' "$1" || true)"
    grep ': Error: Failed to unhibernate client\|Timeout communicating with imap-master' "$1" \
        | sed 's/^.*: Error: //; s|([^)]*)||' | sort | uniq -c | sort -rn | head -5 || true
    grep '^[A-Za-z]* [0-9]* [0-9:]* imap[(:].*\(Error\|Fatal\|Warning\)' "$1" | sed 's/^.*\(Error\|Fatal\|Warning\): //' \
        | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -5 || true
    # The master's own view: imap processes killed, startup throttled.
    grep '^[A-Za-z]* [0-9]* [0-9:]* master: \(Error\|Fatal\|Warning\|Panic\)' "$1" | sed 's/^[^:]*:[^:]*:[^:]*: //' \
        | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -5 || true
}
