/* pair_dedup: see pair_dedup.h. */
#include "pair_dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_log.h"
#include "dedup.h"

/* The GUID of the copy kept in the group of copy i (dedup_plan sorts each
 * group's kept copy first). */
static const char *kept_guid(const struct dedup_list *l, size_t i)
{
    while (i > 0 && strcmp(l->copies[i - 1].mailbox_guid, l->copies[i].mailbox_guid) == 0
           && strcmp(l->copies[i - 1].msgid, l->copies[i].msgid) == 0)
        i--;
    return l->copies[i].guid;
}

static void log_removal(const struct dedup_copy *c, const char *stores, const char *user, const char *kept)
{
    printf("  duplicate removed: user %s, Message-ID %s, mailbox %s, on %s (kept %s)\n", user, c->msgid, c->mailbox,
           stores, kept);
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    buf_append_str(&line, "duplicate-removed");
    daemon_log_field(&line, "user", user);
    daemon_log_field(&line, "msgid", c->msgid);
    daemon_log_field(&line, "store", stores);
    daemon_log_field(&line, "mailbox", c->mailbox);
    daemon_log_field(&line, "guid", c->guid);
    daemon_log_field(&line, "kept_guid", kept);
    daemon_log_end(&line);
}

/* Appends one store's recent messages of the user to l. */
static int fetch_recent(const struct pair_dedup_store *s, int index, const char *user, const char *since,
                        struct dedup_list *l, buf *err)
{
    const char *fetch[] = {"fetch", DEDUP_FETCH_FIELDS, "SAVEDSINCE", since, NULL};
    struct doveadm_reply reply;
    if (doveadm_run(s->t, user, fetch, &reply, err) != 0)
        return -1;
    int rc = 0;
    if (!reply.ok) {
        buf_printf(err, "fetch of %s's recent messages on %s failed (%s)", user, s->name, reply.code);
        rc = -1;
    } else {
        rc = dedup_parse(reply.fields, reply.n_fields, index, l, err);
    }
    doveadm_reply_free(&reply);
    return rc;
}

int pair_dedup_user(const struct pair_dedup_store stores[2], const char *user, long long window_start, buf *err)
{
    char since[32];
    snprintf(since, sizeof since, "%lld", window_start - DEDUP_PERIOD_S);
    struct dedup_list l = {0};
    int rc = 0, removed = 0;
    for (int s = 0; s < 2 && rc == 0; s++)
        rc = fetch_recent(&stores[s], s, user, since, &l, err);
    if (rc == 0 && dedup_plan(&l, window_start, DEDUP_PERIOD_S) > 0) {
        /* The copies of one message (one GUID) on both stores are next to
         * each other: removed together, logged once. */
        for (size_t i = 0, next; i < l.n && rc == 0; i = next) {
            next = i + 1;
            if (!l.copies[i].remove)
                continue;
            buf where = BUF_INIT;
            for (size_t k = i; k < l.n && rc == 0 && strcmp(l.copies[k].guid, l.copies[i].guid) == 0
                               && strcmp(l.copies[k].mailbox_guid, l.copies[i].mailbox_guid) == 0; k++, next = k) {
                const struct dedup_copy *c = &l.copies[k];
                const struct pair_dedup_store *s = &stores[c->store];
                /* By UID: never reused, so a removal made already removes
                 * nothing more. */
                const char *expunge[] = {"expunge", "mailbox-guid", c->mailbox_guid, "uid", c->uid, NULL};
                struct doveadm_reply reply;
                if (doveadm_run(s->t, user, expunge, &reply, err) != 0) {
                    rc = -1;
                    break;
                }
                if (!reply.ok) {
                    buf_printf(err, "expunge of %s's uid %s in %s on %s failed (%s)", user, c->uid, c->mailbox,
                               s->name, reply.code);
                    rc = -1;
                } else {
                    buf_printf(&where, "%s%s", where.len ? "," : "", s->name);
                }
                doveadm_reply_free(&reply);
            }
            if (where.len) {
                log_removal(&l.copies[i], buf_cstr(&where), user, kept_guid(&l, i));
                removed++;
            }
            buf_free(&where);
        }
    }
    dedup_list_free(&l);
    return rc == 0 ? removed : -1;
}

/* One command about lock_user: 1 if it succeeded, 0 if it failed, -1 if
 * the server did not answer (err). Its last value goes to value (`mailbox
 * status` prints the mailbox's name, then the field asked for). */
static int lock_command(const struct doveadm_target *t, const char *lock_user, const char *const argv[], buf *value,
                        buf *err)
{
    struct doveadm_reply reply;
    if (doveadm_run(t, lock_user, argv, &reply, err) != 0)
        return -1;
    int ok = reply.ok;
    if (ok && value && reply.n_fields > 0)
        buf_append_str(value, reply.fields[reply.n_fields - 1]);
    doveadm_reply_free(&reply);
    return ok;
}

int pair_dedup_lock(const struct doveadm_target *t, const char *lock_user, const char *pair, long long now,
                    buf *err)
{
    char *name = xasprintf("emailng-dedup-%s", pair);
    const char *create[] = {"mailbox", "create", name, NULL};
    const char *status[] = {"mailbox", "status", "uidvalidity", name, NULL};
    const char *delete[] = {"mailbox", "delete", name, NULL};
    buf made = BUF_INIT;
    int rc = lock_command(t, lock_user, create, NULL, err);
    if (rc == 0) {
        rc = lock_command(t, lock_user, status, &made, err);
        if (rc == 0)
            buf_printf(err, "mailbox status of %s's %s failed", lock_user, name);
        if (rc == 1) {
            char *end = NULL;
            long long t0 = strtoll(buf_cstr(&made), &end, 10);
            if (made.len == 0 || *end != '\0') {
                buf_printf(err, "%s's %s: UIDVALIDITY \"%s\" is not a number", lock_user, name, buf_cstr(&made));
                rc = -1;
            } else if (now - t0 > PAIR_DEDUP_LOCK_STALE_S) {
                /* Left by a check that died; two taking it over at once:
                 * still only one create succeeds. */
                (void)lock_command(t, lock_user, delete, NULL, err);
                buf_reset(err);
                rc = lock_command(t, lock_user, create, NULL, err);
            } else {
                rc = 0;
            }
        } else {
            rc = -1;
        }
    }
    buf_free(&made);
    free(name);
    return rc;
}

int pair_dedup_unlock(const struct doveadm_target *t, const char *lock_user, const char *pair, buf *err)
{
    char *name = xasprintf("emailng-dedup-%s", pair);
    const char *delete[] = {"mailbox", "delete", name, NULL};
    int rc = lock_command(t, lock_user, delete, NULL, err);
    if (rc == 0)
        buf_printf(err, "mailbox delete of %s's %s failed", lock_user, name);
    free(name);
    return rc == 1 ? 0 : -1;
}
