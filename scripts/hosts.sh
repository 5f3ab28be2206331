#!/bin/sh
# hosts.sh: separate "real-looking" hosts on one machine, for tests of
# `emailng deploy` (issue 12; docs/fabric.md, "Separate hosts").
#
#   hosts.sh up PREFIX DIR --authorized-key PUBFILE --known-hosts FILE
#                [--dns ADDR] [--own-resolver HOST]... [--network-only HOST]...
#                [--share PATH]...
#                HOST=ADDR [HOST=ADDR ...]
#   hosts.sh exec PREFIX HOST COMMAND [ARG...]   (run inside HOST)
#   hosts.sh down PREFIX                          (removes everything; idempotent)
#
# Every HOST is the fabric's network namespace PREFIX-HOST (scripts/fabric.sh:
# 198.18.0.0/24 only, one bridge, no route out) PLUS a persistent mount
# namespace of its own (/run/emailng-hosts/PREFIX-HOST.mnt; and a UTS
# namespace, PREFIX-HOST.uts, so that `hostname` says HOST) in which the
# directories a host writes are its own, kept in DIR/HOST/ (visible from the
# machine for inspection): /etc (seeded from the machine's /etc, with the
# fabric's hosts and resolv.conf), /root, /run, /tmp, /var/tmp, /var/log,
# /var/lib/emailng, /var/lib/postfix, /var/spool/postfix, /var/mail. /usr and
# everything else (the repository, the emailng build) stay shared: they play
# the installed packages. Each such host runs Debian's OpenSSH server on
# ADDR:22 with a host key of its own, accepting root logins with the key in
# PUBFILE only (no password, no PAM); FILE receives every host's key in
# known_hosts form. --network-only HOST gets just the network namespace (the
# control host, the internet client). --share PATH keeps PATH the machine's
# on every host even when it lies below a private folder (a repository
# cloned under /tmp, as a clean-clone CI run does).
#
# `down` kills every process of each host (those in its network namespace,
# found by the namespace's identity: `ip netns pids`, never by name), unmounts and
# removes the namespace files, removes the fabric (fabric.sh down) and DIR's
# host folders. Run as root. POSIX sh, util-linux (unshare, nsenter),
# iproute2, openssh-server.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
FABRIC="$HERE/fabric.sh"
MNT_DIR=/run/emailng-hosts
# What a host writes: its own copy, DIR/HOST/<path with / as ->.
PRIVATE="/etc /root /run /var/tmp /var/log /var/lib/emailng /var/lib/postfix /var/spool/postfix /var/mail /tmp"

die() {
    echo "hosts: $*" >&2
    exit 1
}

usage() {
    sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

valid_prefix() {
    case $1 in '' | *[!a-z0-9]* | [!a-z]*) die "bad PREFIX \"$1\"" ;; esac
}

host_dir_name() { echo "$1" | sed 's|^/||; s|/|-|g'; }

ns_file() { echo "$MNT_DIR/$1-$2.mnt"; }
uts_file() { echo "$MNT_DIR/$1-$2.uts"; }

# The mount namespaces' files live in a private mount of their own folder
# (unshare --mount=FILE needs that, so that the namespace is not pinned in
# every other namespace's copy of the folder).
ensure_mnt_dir() {
    mkdir -p "$MNT_DIR"
    if ! mountpoint -q "$MNT_DIR"; then
        mount --bind "$MNT_DIR" "$MNT_DIR"
    fi
    mount --make-private "$MNT_DIR"
}

# make_host PREFIX DIR HOST ADDR PUBFILE KNOWN
make_host() {
    prefix=$1 dir=$2 host=$3 addr=$4 pub=$5 known=$6
    root="$dir/$host"
    mkdir -p "$root"
    for p in $PRIVATE; do
        d="$root/$(host_dir_name "$p")"
        mkdir -p "$d"
        if [ "$p" = /etc ]; then
            cp -a /etc/. "$d/"
        else
            # A mount point must exist: /var/lib/emailng is made empty on
            # the machine if it is not there (nothing is ever written to it).
            [ -d "$p" ] || mkdir -p "$p"
            chmod --reference="$p" "$d"
            chown --reference="$p" "$d"
        fi
    done
    etc="$root/etc"
    cp "/etc/netns/$prefix-$host/hosts" "$etc/hosts"
    cp "/etc/netns/$prefix-$host/resolv.conf" "$etc/resolv.conf"
    echo "$host" > "$etc/hostname"
    # Nothing of the machine's own identity or of other test fabrics.
    rm -rf "$etc/netns" "$etc/ssh/sshd_config.d" "$etc"/ssh/ssh_host_*
    rm -f "$etc"/cron.d/emailng* "$etc"/logrotate.d/emailng*
    ssh-keygen -q -t ed25519 -N '' -C "root@$host" -f "$etc/ssh/ssh_host_ed25519_key"
    mkdir -p "$etc/ssh/authorized_keys"
    chmod 0755 "$etc/ssh/authorized_keys"
    install -m 0600 -o root -g root "$pub" "$etc/ssh/authorized_keys/root"
    cat > "$etc/ssh/sshd_config" <<EOF
# written by scripts/hosts.sh: host $host of the test hosts $prefix
ListenAddress $addr:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile /etc/ssh/authorized_keys/%u
X11Forwarding no
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    mkdir -p "$root/run/sshd"
    chmod 0755 "$root/run/sshd"
    printf '%s,%s %s\n' "$host" "$addr" "$(cut -d' ' -f1,2 "$etc/ssh/ssh_host_ed25519_key.pub")" >> "$known"

    nsf=$(ns_file "$prefix" "$host")
    utsf=$(uts_file "$prefix" "$host")
    : > "$nsf"
    : > "$utsf"
    # The namespace outlives this shell through its file; the binds are made
    # inside it, /tmp last (DIR may be below /tmp).
    # A shared PATH below a private folder is bound into the host's copy of
    # that folder first, and the folder is bound with its submounts.
    binds=
    for p in $PRIVATE; do
        d="$root/$(host_dir_name "$p")"
        for sp in $SHARED; do
            case $sp in "$p"/*)
                mkdir -p "$d/${sp#"$p"/}"
                binds="$binds mount --bind '$sp' '$d/${sp#"$p"/}' &&" ;;
            esac
        done
        binds="$binds mount --rbind '$d' '$p' &&"
    done
    unshare --mount="$nsf" --uts="$utsf" --propagation private /bin/sh -c "$binds hostname '$host'"
    nsenter --mount="$nsf" --uts="$utsf" --net="/run/netns/$prefix-$host" /usr/sbin/sshd
    i=0
    until [ -s "$root/run/sshd.pid" ]; do
        i=$((i + 1))
        [ $i -le 50 ] || die "sshd of $host did not start"
        sleep 0.1
    done
}

cmd_up() {
    [ $# -ge 2 ] || usage
    prefix=$1 dir=$2
    shift 2
    valid_prefix "$prefix"
    pub= known= fabric_args= separate= netonly=' '
    SHARED=
    while [ $# -gt 0 ]; do
        case $1 in
            --authorized-key) pub=$2; shift 2 ;;
            --known-hosts) known=$2; shift 2 ;;
            --network-only) netonly="$netonly$2 "; shift 2 ;;
            --share)
                case $2 in /*) ;; *) die "--share needs an absolute path, not \"$2\"" ;; esac
                [ -d "$2" ] || die "--share $2: no such folder"
                SHARED="$SHARED $2"; shift 2 ;;
            --dns | --own-resolver) fabric_args="$fabric_args $1 $2"; shift 2 ;;
            -*) die "unknown option \"$1\"" ;;
            *=*)
                fabric_args="$fabric_args $1"
                case $netonly in *" ${1%%=*} "*) ;; *) separate="$separate $1" ;; esac
                shift ;;
            *) die "bad host \"$1\": expected HOST=ADDR" ;;
        esac
    done
    [ -n "$pub" ] && [ -r "$pub" ] || die "--authorized-key PUBFILE (a readable public key) is required"
    [ -n "$known" ] || die "--known-hosts FILE is required"
    [ -n "$separate" ] || die "no separate host given"
    command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || die "sshd (package openssh-server) not found"
    [ ! -e "$MNT_DIR/$prefix" ] || die "hosts \"$prefix\" already exist; run: hosts.sh down $prefix"
    # shellcheck disable=SC2086
    sh "$FABRIC" up "$prefix" $fabric_args >/dev/null
    ensure_mnt_dir
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    {
        echo "dir=$dir"
        for spec in $separate; do echo "host=${spec%%=*}"; done
        for host in $netonly; do echo "net=$host"; done
    } > "$MNT_DIR/$prefix"
    trap 'echo "hosts: up failed; removing $prefix" >&2; cmd_down "$prefix" >/dev/null 2>&1' EXIT
    : > "$known"
    for spec in $separate; do make_host "$prefix" "$dir" "${spec%%=*}" "${spec#*=}" "$pub" "$known"; done
    trap - EXIT
    echo "hosts $prefix up:$separate (files in $dir)"
}

# pids_in_host PREFIX HOST: every process of the host. Everything on it
# runs in its network namespace (exec and sshd enter it with the mount
# namespace), also a daemon that made a mount namespace of its own, such as
# emailng's OpenDMARC; `ip netns pids` finds them by the namespace's identity.
# A zombie has exited (its parent, often init, reaps it when it does).
pids_in_host() {
    for pid in $(ip netns pids "$1-$2" 2>/dev/null); do
        state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || continue
        [ -z "$state" ] || [ "$state" = Z ] || echo "$pid"
    done
}

cmd_down() {
    [ $# -eq 1 ] || usage
    prefix=$1
    valid_prefix "$prefix"
    record="$MNT_DIR/$prefix"
    dir=
    hosts=
    netonly=
    if [ -f "$record" ]; then
        dir=$(sed -n 's/^dir=//p' "$record")
        hosts=$(sed -n 's/^host=//p' "$record")
        netonly=$(sed -n 's/^net=//p' "$record")
    fi
    # What runs on the network-only hosts (e.g. ssh's connection masters on
    # the control host) ends too.
    for host in $netonly; do
        pids=$(pids_in_host "$prefix" "$host")
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill $pids 2>/dev/null || true
    done
    for host in $hosts; do
        nsf=$(ns_file "$prefix" "$host")
        [ -e "$nsf" ] || continue
        pids=$(pids_in_host "$prefix" "$host")
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill $pids 2>/dev/null || true
            i=0
            while [ -n "$(pids_in_host "$prefix" "$host")" ] && [ $i -lt 100 ]; do
                sleep 0.1
                i=$((i + 1))
            done
            pids=$(pids_in_host "$prefix" "$host")
            # shellcheck disable=SC2086
            [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
        fi
        umount "$nsf" 2>/dev/null || true
        umount "$(uts_file "$prefix" "$host")" 2>/dev/null || true
        rm -f "$nsf" "$(uts_file "$prefix" "$host")"
    done
    sh "$FABRIC" down "$prefix" >/dev/null
    if [ -n "$dir" ]; then
        for host in $hosts; do rm -rf "${dir:?}/$host"; done
    fi
    rm -f "$record"
    # The last set of hosts gone: the folder's own mount goes too.
    if [ -d "$MNT_DIR" ] && [ -z "$(ls -A "$MNT_DIR")" ]; then
        umount "$MNT_DIR" 2>/dev/null || true
        rmdir "$MNT_DIR" 2>/dev/null || true
    fi
    echo "hosts $prefix down"
}

cmd_exec() {
    [ $# -ge 3 ] || usage
    prefix=$1 host=$2
    shift 2
    valid_prefix "$prefix"
    nsf=$(ns_file "$prefix" "$host")
    if [ -e "$nsf" ]; then
        exec nsenter --mount="$nsf" --uts="$(uts_file "$prefix" "$host")" --net="/run/netns/$prefix-$host" "$@"
    fi
    exec ip netns exec "$prefix-$host" "$@"
}

[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || die "must run as root (namespaces)"
cmd=$1
shift
case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    exec) cmd_exec "$@" ;;
    -h | --help | help) usage ;;
    *) die "unknown command \"$cmd\" (up, exec, down)" ;;
esac
