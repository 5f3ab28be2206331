/* pair_dedup: see pair_dedup.h. */
#include "pair_dedup.h"

#include <stdio.h>
#include <string.h>

#include "daemon_log.h"
#include "dedup.h"

/* The GUID of the copy kept in c's group (dedup_plan sorts each group's
 * kept copy first). */
static const char *kept_guid(const struct dedup_list *l, size_t i)
{
    while (i > 0 && strcmp(l->copies[i - 1].mailbox_guid, l->copies[i].mailbox_guid) == 0
           && strcmp(l->copies[i - 1].msgid, l->copies[i].msgid) == 0)
        i--;
    return l->copies[i].guid;
}

static void log_removal(const struct dedup_copy *c, const char *store_name, const char *user, const char *kept)
{
    printf("  duplicate removed on %s: user %s, Message-ID %s, mailbox %s, uid %s (kept %s)\n", store_name, user,
           c->msgid, c->mailbox, c->uid, kept);
    buf line = BUF_INIT;
    daemon_log_begin(&line);
    daemon_log_field(&line, "action", "duplicate-removed");
    daemon_log_field(&line, "user", user);
    daemon_log_field(&line, "msgid", c->msgid);
    daemon_log_field(&line, "store", store_name);
    daemon_log_field(&line, "mailbox", c->mailbox);
    daemon_log_field(&line, "uid", c->uid);
    daemon_log_field(&line, "guid", c->guid);
    daemon_log_field(&line, "kept_guid", kept);
    daemon_log_end(&line);
}

int pair_dedup_user(const struct doveadm_target *t, const char *store_name, const char *user,
                    long long window_start, buf *err)
{
    char since[32];
    snprintf(since, sizeof since, "%lld", window_start - DEDUP_PERIOD_S);
    const char *fetch[] = {"fetch", DEDUP_FETCH_FIELDS, "SAVEDSINCE", since, NULL};
    struct doveadm_reply reply;
    if (doveadm_run(t, user, fetch, &reply, err) != 0)
        return -1;
    struct dedup_list l = {0};
    int rc = 0;
    if (!reply.ok) {
        buf_printf(err, "fetch of %s's recent messages on %s failed (%s)", user, store_name, reply.code);
        rc = -1;
    } else {
        rc = dedup_parse(reply.fields, reply.n_fields, &l, err);
    }
    doveadm_reply_free(&reply);
    if (rc != 0)
        return -1;
    int removed = 0;
    if (dedup_plan(&l, window_start, DEDUP_PERIOD_S) > 0) {
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            const struct dedup_copy *c = &l.copies[i];
            if (!c->remove)
                continue;
            /* By UID: never reused, so a removal the other proxy's check
             * already made removes nothing more. */
            const char *expunge[] = {"expunge", "mailbox-guid", c->mailbox_guid, "uid", c->uid, NULL};
            if (doveadm_run(t, user, expunge, &reply, err) != 0) {
                rc = -1;
                break;
            }
            if (!reply.ok) {
                buf_printf(err, "expunge of %s's uid %s in %s on %s failed (%s)", user, c->uid, c->mailbox,
                           store_name, reply.code);
                rc = -1;
            } else {
                log_removal(c, store_name, user, kept_guid(&l, i));
                removed++;
            }
            doveadm_reply_free(&reply);
        }
    }
    dedup_list_free(&l);
    return rc == 0 ? removed : -1;
}
