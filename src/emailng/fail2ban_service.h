/* fail2ban_service: fail2ban on the hosts users log in to (relays: SMTP
 * AUTH; proxies: IMAP, POP3, ManageSieve), against password guessing (X2).
 * Its configuration is templates/fail2ban rendered to ETC/fail2ban (the
 * packaged /etc/fail2ban is not read); socket and pid file under
 * RUN/fail2ban, its ban database under DATA/fail2ban, its log
 * LOG/fail2ban.log. Bans are elements of nftables sets in the table
 * "inet emailng-f2b" of the host's network namespace. Started after the
 * daemons whose logs it reads. */
#ifndef EMAILNG_FAIL2BAN_SERVICE_H
#define EMAILNG_FAIL2BAN_SERVICE_H

#include <sys/types.h>

#include "services.h"

/* The nftables table that holds the bans (fail2ban's banaction). */
#define FAIL2BAN_NFT_TABLE "emailng-f2b"

int fail2ban_prepare(const struct service_env *env, buf *err);
/* Removes a table left by a killed fail2ban, then `fail2ban-client -c
 * ETC/fail2ban -x start` (the server detaches itself). */
int fail2ban_start(const struct service_env *env, buf *err);
/* 0 once `fail2ban-client ping` answers. */
int fail2ban_ready(const struct service_env *env, buf *detail);
pid_t fail2ban_pid(const struct service_env *env);
/* SIGTERM (fail2ban removes its rules and sets), then the table if it is
 * still there. */
int fail2ban_stop(const struct service_env *env, buf *err);
/* Addresses banned now, over all jails (the elements of the table's sets);
 * -1 if it cannot tell. */
long fail2ban_banned(const struct service_env *env);

#endif
