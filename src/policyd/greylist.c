/* greylist: see greylist.h. */
#include "greylist.h"

#include <string.h>

#include "cidr.h"
#include "table.h"

typedef struct triplet_rec {
    int64_t first;
    int64_t passed;     /* time of the first pass, 0 = not yet */
} triplet_rec;

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

static int listed(const str_list *l, const char *addr)
{
    return addr[0] && (str_list_has(l, addr) || str_list_has(l, domain_of(addr)));
}

int greylist_check(const config *cfg, store *s, const request *r, int64_t now, decision *d)
{
    buf rcpt = BUF_INIT, sender = BUF_INIT, net = BUF_INIT, key = BUF_INIT, action = BUF_INIT;
    int rc = 0;
    address_key(request_get(r, "recipient"), 1, &rcpt);
    address_key(request_get(r, "sender"), 0, &sender);
    const char *client = request_get(r, "client_address");

    if (!cfg->greylist.enabled && !str_list_has(&cfg->greylist.domains, domain_of(rcpt.data))) {
        decision_set(d, "DUNNO", "greylist: off for this domain");
        goto out;
    }
    if (*request_get(r, "sasl_username")) {
        decision_set(d, "DUNNO", "greylist: authenticated");
        goto out;
    }
    if (cidr_list_match(&cfg->greylist.allow_clients, client)) {
        decision_set(d, "DUNNO", "greylist: client allowed");
        goto out;
    }
    if (listed(&cfg->greylist.allow_senders, sender.data)) {
        decision_set(d, "DUNNO", "greylist: sender allowed");
        goto out;
    }
    if (listed(&cfg->greylist.allow_recipients, rcpt.data)) {
        decision_set(d, "DUNNO", "greylist: recipient allowed");
        goto out;
    }
    if (client_net(client, cfg->greylist.v4bits, cfg->greylist.v6bits, &net) != 0) {
        decision_set(d, "DUNNO", "greylist: no client address");
        goto out;
    }
    char dummy;
    buf_printf(&key, "gk:%s", net.data);
    int known = store_get(s, key.data, now, &dummy, 0);
    if (known < 0)
        goto store_error;
    if (known == 1) {
        decision_set(d, "DUNNO", "greylist: known-good client %s", net.data);
        goto out;
    }
    buf_reset(&key);
    buf_printf(&key, "gt:%s|%s|%s", net.data, sender.data, rcpt.data);
    triplet_rec t;
    int found = store_get(s, key.data, now, &t, sizeof(t));
    if (found < 0)
        goto store_error;
    if (found == 1 && t.passed) {
        if (store_put(s, key.data, now + cfg->greylist.lifetime, &t, sizeof(t)) != 0)
            goto store_error;
        decision_set(d, "DUNNO", "greylist: triplet passed before");
        goto out;
    }
    if (found == 1 && now - t.first >= cfg->greylist.delay) {
        t.passed = now;
        if (store_put(s, key.data, now + cfg->greylist.lifetime, &t, sizeof(t)) != 0)
            goto store_error;
        buf_reset(&key);
        buf_printf(&key, "gk:%s", net.data);
        if (cfg->greylist.known_good > 0 && store_put(s, key.data, now + cfg->greylist.known_good, &dummy, 0) != 0)
            goto store_error;
        decision_set(d, "DUNNO", "greylist: retried after %lld s", (long long)(now - t.first));
        goto out;
    }
    if (found != 1) {
        t.first = now;
        t.passed = 0;
        if (store_put(s, key.data, now + cfg->greylist.retry_window, &t, sizeof(t)) != 0)
            goto store_error;
    }
    long wait = (long)(t.first + cfg->greylist.delay - now);
    buf_printf(&action, "DEFER_IF_PERMIT 4.7.1 Greylisted: please try again in %ld seconds",
               wait > 0 ? wait : 1);
    decision_set(d, action.data, "greylist: %s triplet, %ld s to wait", found ? "early retry of" : "new", wait);
    rc = 1;
    goto out;
store_error:
    decision_set(d, "DUNNO", "greylist: store error: %s", store_error(s));
    rc = -1;
out:
    buf_free(&rcpt);
    buf_free(&sender);
    buf_free(&net);
    buf_free(&key);
    buf_free(&action);
    return rc;
}
