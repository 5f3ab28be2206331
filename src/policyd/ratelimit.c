/* ratelimit: see ratelimit.h. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "cidr.h"

/* key prefix "u:" + login or "c:" + client network; 0 or -1 */
static int who(const config *cfg, const request *r, buf *key, int *authenticated)
{
    const char *user = request_get(r, "sasl_username");
    buf_reset(key);
    if (*user) {
        buf tmp = BUF_INIT;
        address_key(user, 0, &tmp);
        buf_printf(key, "u:%s", tmp.data);
        buf_free(&tmp);
        *authenticated = 1;
        return 0;
    }
    *authenticated = 0;
    buf_append_str(key, "c:");
    return client_net(request_get(r, "client_address"), cfg->ratelimit.v4bits,
                      cfg->ratelimit.v6bits, key);
}

static void wait_text(buf *out, int64_t seconds)
{
    if (seconds < 60)
        buf_printf(out, "a minute");
    else if (seconds < 2 * 3600)
        buf_printf(out, "%lld minutes", (long long)((seconds + 59) / 60));
    else
        buf_printf(out, "%lld hours", (long long)((seconds + 3599) / 3600));
}

int ratelimit_check(const config *cfg, const table *t, store *s, const request *r,
                    int64_t now, long rcpts_in_message, decision *d)
{
    buf key = BUF_INIT, k2 = BUF_INIT, wait = BUF_INIT, action = BUF_INIT;
    int authenticated, rc = 0;
    if (!cfg->ratelimit.enabled || who(cfg, r, &key, &authenticated) != 0) {
        decision_set(d, "DUNNO", "ratelimit: not applicable");
        goto out;
    }
    send_limits lim;
    if (authenticated)
        table_limits(t, key.data + 2, &cfg->ratelimit.authenticated, &lim);
    else
        lim = cfg->ratelimit.unauthenticated;
    const char *whom = key.data + 2;

    if (lim.rcpts_per_msg > 0 && rcpts_in_message >= lim.rcpts_per_msg) {
        buf_printf(&action, "452 4.7.1 Too many recipients for one message (at most %ld); "
                   "send to the others in another message", lim.rcpts_per_msg);
        decision_set(d, action.data, "ratelimit: %s over %ld recipients per message", whom, lim.rcpts_per_msg);
        rc = 1;
        goto out;
    }
    uint64_t count;
    int64_t start;
    if (lim.msgs_per_hour > 0) {
        buf_printf(&k2, "rm:%s", whom);
        if (store_counter_get(s, k2.data, now, RL_HOUR, &count, &start) != 0) {
            decision_set(d, "DUNNO", "ratelimit: store error: %s", store_error(s));
            rc = -1;
            goto out;
        }
        if (count >= (uint64_t)lim.msgs_per_hour) {
            wait_text(&wait, start + RL_HOUR - now);
            if (authenticated)
                buf_printf(&action, "450 4.7.1 You have sent %ld messages in the last hour, "
                           "the most allowed; you can send again in %s", lim.msgs_per_hour, wait.data);
            else
                buf_printf(&action, "450 4.7.1 Too many messages from your address; try again in %s", wait.data);
            decision_set(d, action.data, "ratelimit: %s reached %ld messages per hour", whom, lim.msgs_per_hour);
            rc = 1;
            goto out;
        }
    }
    if (lim.rcpts_per_day > 0) {
        buf_reset(&k2);
        buf_printf(&k2, "rr:%s", whom);
        if (store_counter_get(s, k2.data, now, RL_DAY, &count, &start) != 0) {
            decision_set(d, "DUNNO", "ratelimit: store error: %s", store_error(s));
            rc = -1;
            goto out;
        }
        if (count + (uint64_t)rcpts_in_message >= (uint64_t)lim.rcpts_per_day) {
            wait_text(&wait, start ? start + RL_DAY - now : RL_DAY);
            if (authenticated)
                buf_printf(&action, "450 4.7.1 You have sent to %ld recipients today, the most allowed; "
                           "you can send again in %s", lim.rcpts_per_day, wait.data);
            else
                buf_printf(&action, "450 4.7.1 Too many recipients from your address; try again in %s", wait.data);
            decision_set(d, action.data, "ratelimit: %s reached %ld recipients per day", whom, lim.rcpts_per_day);
            rc = 1;
            goto out;
        }
    }
    decision_set(d, "DUNNO", "ratelimit: %s within limits", whom);
out:
    buf_free(&key);
    buf_free(&k2);
    buf_free(&wait);
    buf_free(&action);
    return rc;
}

int ratelimit_record(const config *cfg, store *s, const request *r, int64_t now)
{
    buf key = BUF_INIT, k2 = BUF_INIT;
    int authenticated, rc = 0;
    if (!cfg->ratelimit.enabled || who(cfg, r, &key, &authenticated) != 0)
        goto out;
    long rcpts = strtol(request_get(r, "recipient_count"), NULL, 10);
    if (rcpts < 0 || rcpts > 1000000)
        rcpts = 0;
    buf_printf(&k2, "rm:%s", key.data + 2);
    if (store_counter_add(s, k2.data, now, RL_HOUR, 1) != 0)
        rc = -1;
    buf_reset(&k2);
    buf_printf(&k2, "rr:%s", key.data + 2);
    if (rcpts > 0 && store_counter_add(s, k2.data, now, RL_DAY, (uint64_t)rcpts) != 0)
        rc = -1;
out:
    buf_free(&key);
    buf_free(&k2);
    return rc;
}
