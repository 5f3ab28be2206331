#!/bin/sh
# Install the Debian 12 packages EmailNG needs to build, run and test.
# Idempotent: installs only what is missing. Packaged services that a fresh
# install would start (postfix, dovecot, slapd) are kept from starting, because
# emailng runs each daemon itself with its own configuration and state
# directory; see docs/admin-manual.md "Packaged services".
set -eu

RUNTIME="postfix postfix-ldap postsrsd postfix-mta-sts-resolver postfix-lmdb dovecot-core dovecot-imapd dovecot-pop3d
 dovecot-fts-xapian
 dovecot-lmtpd dovecot-ldap dovecot-sieve dovecot-managesieved
 slapd ldap-utils openssl ca-certificates iproute2 procps libevent-2.1-7
 liblmdb0 libspf2-2 libmilter1.0.1 nftables unbound dns-root-data
 amavisd-new clamav clamav-daemon clamav-milter spamassassin fail2ban logrotate
 lego opendmarc publicsuffix opendkim
 prometheus-postfix-exporter socat nginx-light libcurl4
 php-fpm roundcube roundcube-core roundcube-plugins roundcube-sqlite3
 libfcgi0ldbl libexpat1"
BUILD="build-essential pkg-config libyaml-dev libldap-dev libssl-dev
 libcrypt-dev libcmocka-dev libevent-dev liblmdb-dev libspf2-dev libmilter-dev clang
 libfcgi-dev libexpat1-dev
 lmdb-utils libcurl4-openssl-dev"
TEST="python3 python3-pytest swaks postfix-policyd-spf-python postfwd nsd
 python3-dnspython iputils-ping testssl.sh groff-base man-db pebble
 opendkim opendmarc bind9-dnsutils prometheus python3-prometheus-client
 ldnsutils chromium chromium-driver python3-selenium
 openssh-server ansible ansible-lint"

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: must run as root (it installs Debian packages)" >&2
    exit 1
fi

missing=""
for p in $RUNTIME $BUILD $TEST; do
    if ! dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
else
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix asks how it should be configured; emailng writes its own config.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Roundcube's database is emailng's own (SQLite in the state dir): no dbconfig-common.
    echo "roundcube-core roundcube/dbconfig-install boolean false" | debconf-set-selections
    # Keep newly installed services from starting with the package defaults
    # (they would hold ports 25/143/389 that emailng's daemons need).
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    cleanup() { [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d; return 0; }
    trap cleanup EXIT

    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -n 1)" ]; then
        apt-get update
    fi
    # A stale package list gives 404s: refresh it once and try again.
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing ||
        { apt-get update && apt-get install -y --no-install-recommends $missing; }
fi

# Dovecot stores all mail as this one system user (mail_uid/mail_gid), never
# as the login user; Debian has no such user by default.
id vmail >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group vmail
# emailng-policyd drops to its own user after binding (its SPF checks run
# as nobody, so a compromised libspf2 cannot touch the daemon's state).
id emailng-policyd >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group emailng-policyd
# Mailing lists (U4): Postfix's pipe runs emailng-list-deliver as this user
# (with group postdrop, master.cf), never as root or postfix.
id emailng-list >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group emailng-list
# emailng-healthd (the proxies' store monitor) drops to its own user once started.
id emailng-healthd >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group emailng-healthd
# The Prometheus endpoints (emailng-metricsd, prometheus-postfix-exporter)
# run as their own user once started.
id emailng-metrics >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group emailng-metrics
# emailng-autodiscover (Outlook's autodiscover POST behind nginx) drops to
# its own user once its socket is bound.
id emailng-autodiscover >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin --user-group emailng-autodiscover
# clamd (user clamav) scans the temporary files of amavisd (group amavis).
if id clamav >/dev/null 2>&1 && getent group amavis >/dev/null && ! id -nG clamav | grep -qw amavis; then
    usermod -a -G amavis clamav
fi
echo "install-deps: done"
