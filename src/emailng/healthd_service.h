/* healthd_service: emailng-healthd on a proxy of a site of several hosts
 * (docs/healthd.md, docs/architecture.md section 6): prepare, start, check
 * and stop it (the services.c entry), and its probe account in the
 * directory (healthd-probe@PRIMARY-DOMAIN, IMAP only, no pair, so it
 * receives no mail, sends none and cannot log in through the proxies; its
 * password in STATE/secrets/healthd-probe, root 0600: the monitor reads it
 * before it drops to the emailng-healthd user). */
#ifndef EMAILNG_HEALTHD_SERVICE_H
#define EMAILNG_HEALTHD_SERVICE_H

#include "services.h"

#define HEALTHD_USER "emailng-healthd"

/* emailng-healthd next to the emailng program, else on PATH (caller frees). */
char *healthd_program(void);

int healthd_prepare(const struct service_env *env, buf *err);
int healthd_start(const struct service_env *env, buf *err);
/* Up once the new process has written its status file (after a round). */
int healthd_ready(const struct service_env *env, buf *detail);
pid_t healthd_pid(const struct service_env *env);
int healthd_stop(const struct service_env *env, buf *err);
/* Only on a proxy-only host (the small site has no store pairs to watch). */
int healthd_wanted(const struct service_env *env);

/* The probe account: created once (while the directory is up) if the site
 * has proxy-only hosts; its password file is rewritten, and the account's
 * password reset, when either is missing. */
int healthd_probe_account_ensure(const struct site *site, const char *ldap_uri, const char *state_dir, buf *err);

/* STATE/secrets/healthd-probe: one generated password and a newline, made
 * when missing (here by `up`, or by `deploy` on the control host). */
int healthd_probe_secret_ensure(const char *state_dir, buf *err);

/* The probe account's address, healthd-probe@PRIMARY-DOMAIN (also the
 * owner of the catch-up check's lock, pair_dedup.h). */
int healthd_probe_address(const struct site *site, buf *address, buf *err);

/* STATE/secrets/healthd-probe (caller frees). */
char *healthd_probe_password_file(const char *state_dir);

#endif
