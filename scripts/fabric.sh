#!/bin/sh
# fabric.sh: a test network of many hosts on one machine (docs/fabric.md).
#
#   fabric.sh up PREFIX [--dns ADDR] [--own-resolver HOST]... HOST=ADDR [HOST=ADDR ...]
#   fabric.sh add PREFIX [--dns ADDR] [--own-resolver HOST]... HOST=ADDR [HOST=ADDR ...]
#                                   (a running fabric: make the hosts it lacks,
#                                    e.g. a second store pair; every host's
#                                    /etc/hosts names them all)
#   fabric.sh down PREFIX
#   fabric.sh cut PREFIX HOST       (take HOST's link down: a partition)
#   fabric.sh heal PREFIX HOST      (bring it back)
#   fabric.sh partition PREFIX HOST,HOST.. HOST,HOST..
#                                   (drop traffic between the two groups,
#                                    nothing else: e.g. relays from the inside)
#   fabric.sh unpartition PREFIX    (remove every partition)
#   fabric.sh status PREFIX
#
# Every host is a network namespace PREFIX-HOST with one interface eth0
# (198.18.0.N/24) plugged into a bridge that lives in its own namespace
# PREFIX-br, so nothing is created in the root namespace except the
# namespaces themselves and /etc/netns/PREFIX-HOST/{resolv.conf,hosts}.
# Only addresses in 198.18.0.0/24 (RFC 2544 benchmarking space) are
# accepted. Pure iproute2 and POSIX sh; run as root.
set -eu

NETNS_ETC=/etc/netns
STATE_DIR=/run/emailng-fabric

die() {
    echo "fabric: $*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: fabric.sh up PREFIX [--dns ADDR] [--own-resolver HOST]... HOST=ADDR [HOST=ADDR ...]
       fabric.sh add PREFIX [--dns ADDR] [--own-resolver HOST]... HOST=ADDR [HOST=ADDR ...]
       fabric.sh down PREFIX
       fabric.sh cut PREFIX HOST
       fabric.sh heal PREFIX HOST
       fabric.sh partition PREFIX HOST[,HOST...] HOST[,HOST...]
       fabric.sh unpartition PREFIX
       fabric.sh status PREFIX
PREFIX: 1-16 of [a-z0-9], starting with a letter (no '-').
HOST:   1-12 of [a-z0-9], starting with a letter; "br" is reserved.
ADDR:   198.18.0.N with N in 1..254 (the test fabric; nothing else).
EOF
    exit 2
}

# valid_name WHAT VALUE MAXLEN
valid_name() {
    case $2 in
        '' | *[!a-z0-9]* | [!a-z]*)
            die "bad $1 \"$2\": use 1-$3 characters of a-z and 0-9, starting with a letter" ;;
    esac
    [ ${#2} -le "$3" ] || die "bad $1 \"$2\": longer than $3 characters"
}

valid_prefix() { valid_name "fabric name (PREFIX)" "$1" 16; }

valid_host() {
    valid_name "host name" "$1" 12
    [ "$1" != br ] || die "bad host name \"br\": reserved for the fabric's bridge"
}

# valid_addr WHAT VALUE: only 198.18.0.1 .. 198.18.0.254, canonical form.
valid_addr() {
    case $2 in
        198.18.0.*) n=${2#198.18.0.} ;;
        *) die "$1 \"$2\" refused: only 198.18.0.0/24 (the test fabric) is allowed" ;;
    esac
    case $n in
        '' | *[!0-9]* | 0?*) die "$1 \"$2\" refused: not a plain IPv4 address in 198.18.0.0/24" ;;
    esac
    [ ${#n} -le 3 ] && [ "$n" -ge 1 ] && [ "$n" -le 254 ] ||
        die "$1 \"$2\" refused: the last number must be 1..254"
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

# The fabric's hosts: recorded at `up`, else found among the namespaces.
fabric_hosts() {
    if [ -f "$STATE_DIR/$1" ]; then
        sed -n 's/=.*//p' "$STATE_DIR/$1"
    fi
    ip netns list | awk '{print $1}' | sed -n "s/^$1-\([a-z][a-z0-9]*\)\$/\1/p" | grep -vx br || true
}

# parse_hosts ARGS...: sets dns, own_resolver (" h1 h2 ") and specs
# (" host=addr ...") from the arguments after PREFIX.
parse_hosts() {
    dns=
    own_resolver=' '
    specs=
    seen_hosts=' '
    seen_addrs=' '
    while [ $# -gt 0 ]; do
        case $1 in
            --dns)
                [ $# -ge 2 ] || die "--dns needs an address"
                valid_addr "--dns address" "$2"
                dns=$2
                shift 2
                continue ;;
            --dns=*)
                valid_addr "--dns address" "${1#--dns=}"
                dns=${1#--dns=}
                shift
                continue ;;
            --own-resolver)
                # HOST runs its own caching resolver on 127.0.0.1 (the
                # relays' unbound, started by emailng): its resolv.conf names it.
                [ $# -ge 2 ] || die "--own-resolver needs a host name"
                valid_host "$2"
                own_resolver="$own_resolver$2 "
                shift 2
                continue ;;
            -*) die "unknown option \"$1\"" ;;
            *=*) ;;
            *) die "bad host \"$1\": expected HOST=ADDR" ;;
        esac
        host=${1%%=*}
        addr=${1#*=}
        valid_host "$host"
        valid_addr "address of $host" "$addr"
        case $seen_hosts in *" $host "*) die "host \"$host\" given twice" ;; esac
        case $seen_addrs in *" $addr "*) die "address $addr given twice" ;; esac
        seen_hosts="$seen_hosts$host "
        seen_addrs="$seen_addrs$addr "
        specs="$specs $host=$addr"
        shift
    done
    [ -n "$specs" ] || die "up needs at least one HOST=ADDR"
    for host in $own_resolver; do
        case $seen_hosts in *" $host "*) ;; *) die "--own-resolver $host: no such host given" ;; esac
    done
}

# make_host PREFIX HOST ADDR: its namespace, plugged into the bridge, and its
# resolv.conf (dns and own_resolver as parse_hosts set them).
make_host() {
    prefix=$1
    host=$2
    addr=$3
    ns="$prefix-$host"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Created inside the bridge namespace; the peer goes straight into the host's.
    ip -n "$prefix-br" link add "v-$host" type veth peer name eth0 netns "$ns"
    ip -n "$prefix-br" link set "v-$host" master br0
    ip -n "$prefix-br" link set "v-$host" up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$NETNS_ETC/$ns"
    {
        echo "# written by scripts/fabric.sh for fabric $prefix"
        case $own_resolver in
            *" $host "*)
                echo "# $host's own caching resolver (unbound, started by emailng)"
                echo "nameserver 127.0.0.1"
                # it validates DNSSEC: let its AD bit through (Postfix DANE)
                echo "options trust-ad" ;;
            *)
                if [ -n "$dns" ]; then
                    echo "nameserver $dns"
                else
                    echo "# no --dns given: no resolver in this fabric"
                    echo "nameserver 127.0.0.1"
                fi ;;
        esac
    } > "$NETNS_ETC/$ns/resolv.conf"
    chmod 0644 "$NETNS_ETC/$ns/resolv.conf"
}

# write_hosts_files PREFIX: every host's /etc/hosts names every recorded host.
write_hosts_files() {
    hosts_file=$(mktemp)
    printf '127.0.0.1\tlocalhost\n' > "$hosts_file"
    while IFS='=' read -r h a; do printf '%s\t%s\n' "$a" "$h" >> "$hosts_file"; done < "$STATE_DIR/$1"
    while IFS='=' read -r h a; do
        cp "$hosts_file" "$NETNS_ETC/$1-$h/hosts"
        chmod 0644 "$NETNS_ETC/$1-$h/hosts"
    done < "$STATE_DIR/$1"
    rm -f "$hosts_file"
}

cmd_up() {
    [ $# -ge 1 ] || usage
    prefix=$1
    shift
    valid_prefix "$prefix"
    parse_hosts "$@"
    if ns_exists "$prefix-br" || [ -f "$STATE_DIR/$prefix" ]; then
        die "fabric \"$prefix\" already exists; run: fabric.sh down $prefix"
    fi
    for spec in $specs; do
        ns_exists "$prefix-${spec%%=*}" &&
            die "namespace $prefix-${spec%%=*} already exists; run: fabric.sh down $prefix"
    done

    mkdir -p "$STATE_DIR"
    : > "$STATE_DIR/$prefix"
    for spec in $specs; do echo "$spec" >> "$STATE_DIR/$prefix"; done
    # From here on, any failure removes what was made.
    trap 'echo "fabric: up failed; removing $prefix" >&2; cmd_down "$prefix" >/dev/null 2>&1' EXIT

    br="$prefix-br"
    ip netns add "$br"
    ip -n "$br" link set lo up
    ip -n "$br" link add br0 type bridge
    ip -n "$br" link set br0 up

    for spec in $specs; do make_host "$prefix" "${spec%%=*}" "${spec#*=}"; done
    write_hosts_files "$prefix"
    trap - EXIT
    echo "fabric $prefix up:$specs${dns:+ (dns $dns)}"
}

# A running fabric grows: the hosts not in its record are made (a second
# store pair added to the site file); the others are left as they are.
cmd_add() {
    [ $# -ge 1 ] || usage
    prefix=$1
    shift
    valid_prefix "$prefix"
    parse_hosts "$@"
    ns_exists "$prefix-br" && [ -f "$STATE_DIR/$prefix" ] || die "no fabric \"$prefix\"; run: fabric.sh up"
    added=
    for spec in $specs; do
        host=${spec%%=*}
        addr=${spec#*=}
        recorded=$(sed -n "s/^$host=//p" "$STATE_DIR/$prefix")
        if [ -n "$recorded" ]; then
            [ "$recorded" = "$addr" ] || die "host $host is in fabric $prefix with address $recorded, not $addr"
            continue
        fi
        grep -q "=$addr\$" "$STATE_DIR/$prefix" && die "address $addr is taken in fabric $prefix"
        ns_exists "$prefix-$host" && die "namespace $prefix-$host already exists"
        make_host "$prefix" "$host" "$addr"
        echo "$spec" >> "$STATE_DIR/$prefix"
        added="$added $spec"
    done
    write_hosts_files "$prefix"
    echo "fabric $prefix:${added:- no new host}${added:+ added}"
}

cmd_down() {
    [ $# -eq 1 ] || usage
    valid_prefix "$1"
    prefix=$1
    for host in $(fabric_hosts "$prefix" | sort -u); do
        ns="$prefix-$host"
        if ns_exists "$ns"; then ip netns delete "$ns"; fi
        rm -rf "${NETNS_ETC:?}/$ns"
    done
    # Deleting the bridge namespace deletes the bridge and every veth.
    if ns_exists "$prefix-br"; then ip netns delete "$prefix-br"; fi
    rm -f "$STATE_DIR/$prefix"
    rmdir "$NETNS_ETC" "$STATE_DIR" 2>/dev/null || true
    echo "fabric $prefix down"
}

need_host() {
    valid_prefix "$1"
    valid_host "$2"
    ns_exists "$1-br" || die "no fabric \"$1\""
    ip -n "$1-br" link show "v-$2" >/dev/null 2>&1 || die "fabric \"$1\" has no host \"$2\""
}

cmd_cut() {
    [ $# -eq 2 ] || usage
    need_host "$1" "$2"
    ip -n "$1-br" link set "v-$2" down
    echo "fabric $1: $2 cut"
}

cmd_heal() {
    [ $# -eq 2 ] || usage
    need_host "$1" "$2"
    ip -n "$1-br" link set "v-$2" up
    # Forget the neighbours that failed while cut, so traffic resumes at once.
    ip -n "$1-$2" neigh flush dev eth0 2>/dev/null || true
    echo "fabric $1: $2 healed"
}

# addresses_of PREFIX HOST,HOST...: "198.18.0.11, 198.18.0.12" from the record.
addresses_of() {
    list=
    for host in $(echo "$2" | tr ',' ' '); do
        need_host "$1" "$host"
        addr=$(sed -n "s/^$host=//p" "$STATE_DIR/$1" 2>/dev/null)
        [ -n "$addr" ] || die "fabric \"$1\" has no recorded address for \"$host\""
        list="${list:+$list, }$addr"
    done
    [ -n "$list" ] || die "an empty group of hosts"
    echo "$list"
}

# A partition drops IPv4 between two groups on the bridge (nft's bridge
# family, in the bridge's namespace), both ways: the hosts keep their links
# and every other peer, and packets vanish as on a broken WAN link (TCP
# connects time out; nothing is refused). Each call adds to the table.
cmd_partition() {
    [ $# -eq 3 ] || usage
    command -v nft >/dev/null 2>&1 || die "nft (package nftables) not found"
    a=$(addresses_of "$1" "$2")
    b=$(addresses_of "$1" "$3")
    ip netns exec "$1-br" nft -f - <<EOF
table bridge fabric_partition {
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip saddr { $a } ip daddr { $b } drop
        ip saddr { $b } ip daddr { $a } drop
    }
}
EOF
    echo "fabric $1: $2 partitioned from $3"
}

cmd_unpartition() {
    [ $# -eq 1 ] || usage
    valid_prefix "$1"
    ns_exists "$1-br" || die "no fabric \"$1\""
    ip netns exec "$1-br" nft delete table bridge fabric_partition 2>/dev/null || true
    for host in $(fabric_hosts "$1" | sort -u); do
        ip -n "$1-$host" neigh flush dev eth0 2>/dev/null || true
    done
    echo "fabric $1: partitions removed"
}

cmd_status() {
    [ $# -eq 1 ] || usage
    valid_prefix "$1"
    prefix=$1
    ns_exists "$prefix-br" || die "no fabric \"$prefix\""
    for host in $(fabric_hosts "$prefix" | sort -u); do
        ns="$prefix-$host"
        if ! ns_exists "$ns"; then
            printf '%-12s %-15s %s\n' "$host" "-" "missing namespace"
            continue
        fi
        addr=$(ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
        if ip -n "$prefix-br" link show "v-$host" 2>/dev/null | grep -q '[<,]UP[,>]'; then
            link=up
        else
            link=cut
        fi
        printf '%-12s %-18s %s\n' "$host" "${addr:--}" "$link"
    done
}

[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
command -v ip >/dev/null 2>&1 || die "ip (iproute2) not found"
cmd=$1
shift
case $cmd in
    up) cmd_up "$@" ;;
    add) cmd_add "$@" ;;
    down) cmd_down "$@" ;;
    cut) cmd_cut "$@" ;;
    heal) cmd_heal "$@" ;;
    partition) cmd_partition "$@" ;;
    unpartition) cmd_unpartition "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) die "unknown command \"$cmd\" (up, add, down, cut, heal, partition, unpartition, status)" ;;
esac
