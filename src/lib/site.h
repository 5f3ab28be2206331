/* site: the declarative site model and its loader.
 * A site file (YAML, parsed with libyaml) names the domains, the hosts and
 * their roles, the directory base, TLS names, quota and limits. site_load
 * checks every key and value (through src/lib/yaml_config.h) and reports
 * every problem as "FILE:LINE:COL: what is wrong; what was expected", one
 * per line, sorted by line and column, at the field the problem is about.
 * With no file, site_default() gives the small-site profile. */
#ifndef EMAILNG_SITE_H
#define EMAILNG_SITE_H

#include <stddef.h>

#include "buf.h"

enum site_role {
    ROLE_RELAY = 1 << 0,
    ROLE_PROXY = 1 << 1,
    ROLE_STORE = 1 << 2,
    ROLE_DIRECTORY = 1 << 3,
};
#define ROLE_ALL (ROLE_RELAY | ROLE_PROXY | ROLE_STORE | ROLE_DIRECTORY)

struct site_host {
    char *name;          /* [a-z0-9-], unique */
    char *address;       /* IPv4 or IPv6 literal where its public services listen */
    unsigned roles;      /* ROLE_* bits */
    char *store_pair;    /* stores only: the pair holding its mailboxes */
    size_t line, column; /* where the site file defines it (1-based; 0 = built in) */
};

/* The test fabric (docs/fabric.md): only used when `emailng up` starts a
 * site of several hosts on one machine, one network namespace per host.
 * A real deployment (`emailng up --host NAME` on each host) ignores it. */
struct site_fabric {
    char *dns;           /* authoritative DNS (nsd) for the domains, playing the internet's; NULL = none */
    char *client;        /* a namespace "client" playing the internet and the users; NULL = none */
};

/* The network around the hosts of a site of several hosts (docs/architecture.md):
 * who may reach ssh (the firewall, X1), and where the relays' caching
 * resolvers send their queries (S8). Both are unused by the one-host site. */
struct site_network {
    char **admin_hosts;  /* ADDR or ADDR/PREFIX allowed to reach ssh (22); none by default */
    size_t n_admin_hosts;
    char **resolver_forward;   /* upstream resolvers of the relays' unbound; none: full recursion */
    size_t n_resolver_forward;
};

struct site_ports {
    int smtp, submission, submissions;
    int imap, imaps, pop3, pop3s, managesieve;
    int lmtp, quota_status;
    /* no port for emailng-policyd: Postfix reaches it on a unix socket
     * only it may open (docs/policyd.md) */
};

/* Content filtering on the relay role (F1-F4): amavisd-new with ClamAV
 * and SpamAssassin; see docs/architecture-filtering.md. Scores are kept in
 * tenths of a SpamAssassin point (50 = 5.0) so they render exactly. */
enum site_virus_action {
    VIRUS_QUARANTINE = 0,   /* after-queue find: keep in the quarantine, deliver nothing */
    VIRUS_DISCARD,          /* after-queue find: drop (logged) */
};

struct site_filter {
    int enabled;                        /* amavisd, clamd (and clamav-milter) run on the relay */
    int before_queue;                   /* MX refuses viruses in the SMTP dialogue (clamav-milter) */
    enum site_virus_action virus_action;
    int spam_junk_tenths;               /* default Junk threshold (users may set their own) */
    int spam_quarantine_tenths;         /* quarantine instead of delivering at/above; 0 = never */
    unsigned long long quarantine_size; /* bytes: cap of the quarantine folder, oldest removed first */
    char *signatures;                   /* folder with ClamAV databases (freshclam's) */
    int processes;                      /* amavisd child processes */
    int network_tests;                  /* SpamAssassin DNS/network tests */
};

/* DKIM signing on the relays (OpenDKIM; dkim.h, docs/admin-manual.md
 * "DKIM keys"). */
struct site_dkim {
    int enabled;                        /* OpenDKIM signs and verifies on every relay */
    int retire_days;                    /* a replaced selector's record stays at least this long */
};

/* The border policy (emailng-policyd on the relays; docs/policyd.md):
 * send limits (S5), SPF (S6), greylisting. Limits: 0 = no limit. */
struct site_send_limits {
    long msgs_per_hour, rcpts_per_msg, rcpts_per_day;
};

struct site_limit_override {
    char *address;                      /* normalised user address */
    struct site_send_limits limits;     /* -1 = the default applies */
};

struct site_policy {
    struct site_send_limits user;       /* per authenticated user (SASL login) */
    struct site_send_limits client;     /* per unauthenticated client network */
    struct site_limit_override *overrides;
    size_t n_overrides;
    int spf_enabled;                    /* check SPF of unauthenticated mail on the MX */
    int spf_reject_fail;                /* 550 5.7.23 on fail (else a Received-SPF header only) */
    char **spf_trusted_forwarders;      /* IPs or networks never checked */
    size_t n_spf_trusted_forwarders;
    char *spf_resolv_conf;              /* resolv.conf for SPF lookups; NULL = the system's */
    int greylist_enabled;               /* for every domain */
    char **greylist_domains;            /* or only for these (our) recipient domains */
    size_t n_greylist_domains;
    long greylist_delay;                /* seconds */
    char **xclient_hosts;               /* clients allowed to use XCLIENT (tests only) */
    size_t n_xclient_hosts;
};

/* Password guessing (X2): fail2ban on the hosts that authenticate bans an
 * address for bantime seconds after maxretry failed logins within findtime
 * seconds (docs/admin-manual.md, "Password guessing"). */
struct site_bruteforce {
    long maxretry, findtime, bantime;
    char **ignore;                      /* ADDR or ADDR/PREFIX never banned */
    size_t n_ignore;
};

/* Where the public certificate comes from (the one served to clients on
 * 25/587/465/143/993/110/995/4190 for tls.names). Internal TLS (LDAPS,
 * proxies to stores, relays to proxies) always uses the site CA. */
enum site_cert_source {
    CERT_SOURCE_SITE_CA = 0,    /* issued by the site CA (default; tests) */
    CERT_SOURCE_FILES,          /* the admin's files, used as they are */
    CERT_SOURCE_ACME,           /* obtained and renewed over ACME (lego) */
};

struct site_cert_files {
    char *certificate, *key;    /* absolute paths */
    char *chain;                /* intermediates; NULL: the certificate file holds them */
};

struct site_acme {
    char *directory;            /* https:// URL of the ACME directory */
    char *email;                /* the account's contact (normalised) */
    char *ca_bundle;            /* CA of the ACME server's HTTPS; NULL = the system's */
};

/* DMARC of inbound mail on the relays (OpenDMARC, issue 11; docs/admin-manual.md
 * "DMARC"), and the policy our own domains publish in _dmarc.DOMAIN. The
 * zero values are the defaults (enforce, p=none). */
enum site_dmarc_mode {
    DMARC_ENFORCE = 0,      /* p=reject refused at DATA, p=quarantine to Junk */
    DMARC_MONITOR,          /* Authentication-Results only */
    DMARC_OFF,              /* no OpenDMARC */
};
enum site_dmarc_policy {
    DMARC_POLICY_NONE = 0,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};
struct site_dmarc {
    enum site_dmarc_mode mode;
    enum site_dmarc_policy policy;  /* of our own domains' DMARC record */
};

#define SITE_QUOTA_WARNINGS_MAX 5

/* ALT storage of the stores (site_storage.h; docs/admin-manual.md,
 * "Old mail on a second file system"). */
struct site_storage {
    char *alt_path;              /* NULL: no ALT storage */
    unsigned alt_after_days;     /* mail received earlier moves to ALT */
};

/* Prometheus metrics on every host (site_metrics.h; docs/admin-manual.md,
 * "Monitoring"). */
struct site_metrics {
    int enabled;
    int dovecot_port;    /* Dovecot's stats service (proxies, stores) */
    int postfix_port;    /* prometheus-postfix-exporter (relays, stores) */
    int emailng_port;    /* emailng-metricsd (every host) */
};

/* Mail that leaves for other sites (issue 11, S2): SRS for what the site
 * forwards, and the relays' TLS policy toward other MTAs. */
enum site_outbound_tls {
    OUTBOUND_TLS_DEFAULT = 0,   /* dane where the host runs its own validating resolver, else may */
    OUTBOUND_TLS_MAY,           /* opportunistic TLS (RFC 7435) */
    OUTBOUND_TLS_DANE,          /* DANE where TLSA is published and DNSSEC-validated, else may */
};

struct site_outbound {
    int srs_enabled;            /* postsrsd on the relays rewrites forwarded mail's envelope sender */
    enum site_outbound_tls tls;
    int mta_sts;                /* mta-sts-daemon on the relays answers Postfix's TLS policy lookups */
};

/* Backups (site_backup.h; docs/admin-manual.md, "Backup and restore"). */
struct site_backup {
    char *path;                 /* NULL: STATE/backup */
    int keep;                   /* complete generations kept */
};

/* Full-text search on the stores (site_search.h). */
struct site_search {
    int fts;                    /* Dovecot's FTS with the Xapian backend */
};

/* Webmail: Roundcube under php-fpm behind the site's nginx (site_webmail.h). */
struct site_webmail {
    int enabled;
    int given;                  /* 0: the default for the site's size */
};

struct site {
    char *source;                   /* file name, or "(built-in small site)" */
    char *name;
    char **domains;                 /* domains[0] is the primary domain */
    size_t n_domains;
    char *ldap_base;
    struct site_host *hosts;
    size_t n_hosts;
    char **tls_names;               /* server certificate names; [0] is the public host name */
    size_t n_tls_names;
    enum site_cert_source cert_source;  /* tls.source */
    struct site_cert_files cert_files;  /* tls.files */
    struct site_acme acme;              /* tls.acme */
    unsigned long long quota_default;   /* bytes; 0 = unlimited */
    unsigned quota_grace_percent;
    unsigned quota_warnings[SITE_QUOTA_WARNINGS_MAX];  /* percent, highest first (site_quota_warning.h) */
    size_t n_quota_warnings;
    char *quota_warning_message;        /* NULL: the rendered default */
    unsigned long long message_size;    /* bytes */
    unsigned long long line_length;     /* bytes */
    int demo_users;
    /* Where postmaster@ and abuse@ of every domain go (RFC 5321, RFC 2142):
     * `up` creates those aliases when they are missing. Normalised; given,
     * or alice@ the primary domain when the site has demo users (required
     * otherwise). */
    char *admin_address;
    struct site_ports ports;
    struct site_policy policy;
    struct site_filter filter;
    struct site_dkim dkim;
    struct site_fabric fabric;
    struct site_network network;
    struct site_bruteforce bruteforce;
    struct site_dmarc dmarc;
    struct site_metrics metrics;
    struct site_outbound outbound;
    struct site_storage storage;
    struct site_backup backup;
    struct site_search search;
    struct site_webmail webmail;
};

/* The small-site profile: example.test, one host "mail" on 127.0.0.1 with
 * every role. This is what `emailng up` starts with no --site. */
void site_default(struct site *site);

/* Load and validate a site file. Returns 0, or -1 with every error appended
 * to errors (one "FILE:LINE:COL: ..." line each). */
int site_load(const char *path, struct site *site, buf *errors);

/* The same from text in memory (name is used in error messages). */
int site_parse(const char *text, size_t len, const char *name, struct site *site, buf *errors);

void site_free(struct site *site);

/* The host carrying a role (the first one), or NULL. */
const struct site_host *site_host_with_role(const struct site *site, unsigned role);

/* The number of hosts with a role. */
size_t site_count_role(const struct site *site, unsigned role);

/* The other store of host's pair (full topology), or NULL. */
const struct site_host *site_store_partner(const struct site *site, const struct site_host *host);

/* "relay, proxy, store, directory" for a role set. */
void site_roles_text(unsigned roles, buf *out);

#endif
