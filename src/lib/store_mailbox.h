/* store_mailbox: the decisions about a user's mailbox on the stores that
 * the local path (mailbox_lifecycle.c, the stores' disks on this machine)
 * and the remote path (mailbox_remote.c, each store's doveadm server)
 * share: which stores hold a pair, whether a store's data is on this
 * machine, how an archive is named, and what a doveadm `fs stat` answer
 * says about a mailbox. No I/O but one stat(). */
#ifndef EMAILNG_STORE_MAILBOX_H
#define EMAILNG_STORE_MAILBOX_H

#include <time.h>

#include "doveadm_client.h"
#include "site.h"

/* 1 if h is a store holding pair: its store_pair is pair, or no store
 * names one (the small site: every store), or pair is NULL/"" or held by
 * no store (then every store is looked at). */
int store_mailbox_holds_pair(const struct site *site, const struct site_host *h, const char *pair);

/* 1 if STATE/data/STORE exists here: the store's disk is on this machine
 * (the small site, the one-machine fabric), 0 if not (a deployed site,
 * seen from its directory host). */
int store_mailbox_data_here(const char *state_dir, const struct site_host *h);

/* 1 if any store of pair has its data elsewhere: the mailbox must then be
 * put away by that store's doveadm server, which may not answer (then
 * `user del` keeps the entry, DIRECTORY_STATUS_DELETING, for a retry). */
int store_mailbox_any_remote(const struct site *site, const char *state_dir, const char *pair);

/* DATA/STORE/mail/DOMAIN/LOCAL of address on store h, as a path on h. */
char *store_mailbox_path(const char *state_dir, const struct site_host *h, const char *address);

/* The archive's name: LOCAL.STAMP (UTC, e.g. alice.20261207T173000Z), or
 * LOCAL.STAMP-N for n >= 2 (a name already taken). */
char *store_mailbox_archive_leaf(const char *address, time_t when, int n);

enum store_mailbox_presence {
    STORE_MAILBOX_PRESENT,     /* fs stat: "+" */
    STORE_MAILBOX_ABSENT,      /* fs stat: "-NOTFOUND" */
    STORE_MAILBOX_UNKNOWN,     /* any other failure: fail closed */
};
enum store_mailbox_presence store_mailbox_presence(const struct doveadm_reply *stat_reply);

#endif
