/* listpolicy: see listpolicy.h. */
#include "listpolicy.h"

#include <string.h>

/* The list part of a recipient: lower case, "+ext" cut off; *ext gets
 * the extension ("" if none). */
static void split_recipient(const char *recipient, buf *key, buf *ext)
{
    buf_reset(ext);
    address_key(recipient, 1, key);
    const char *plus = strchr(recipient, '+');
    const char *at = strrchr(recipient, '@');
    if (plus && at && plus < at)
        buf_append(ext, plus + 1, (size_t)(at - plus - 1));
    else
        buf_append_str(ext, "");
}

static int is_owner(const table_list *l, const char *address)
{
    if (!*address)
        return 0;
    buf key = BUF_INIT;
    address_key(address, 0, &key);
    int found = 0;
    for (size_t i = 0; i < l->owners.n && !found; i++)
        found = strcmp(l->owners.items[i], key.data) == 0;
    buf_free(&key);
    return found;
}

/* d = action "CODE <list>: TEXT" and the log reason. */
static void refuse(decision *d, const char *code, const char *list, const char *text, const char *reason,
                   const char *who)
{
    buf action = BUF_INIT;
    buf_printf(&action, "%s <%s>: %s", code, list, text);
    decision_set(d, buf_cstr(&action), "list: %s %s (%s)", list, reason, who);
    buf_free(&action);
}

/* Each policy: 1 and a 550 in d, or 0 and the reason it passes. */
typedef int (*policy_fn)(const table_list *l, const char *list, const request *r, decision *d);

static int allow_open(const table_list *l, const char *list, const request *r, decision *d)
{
    (void)l;
    (void)r;
    decision_set(d, "DUNNO", "list: %s is open", list);
    return 0;
}

static int allow_internal(const table_list *l, const char *list, const request *r, decision *d)
{
    (void)l;
    if (*request_get(r, "sasl_username")) {
        decision_set(d, "DUNNO", "list: %s is internal, the client is authenticated", list);
        return 0;
    }
    refuse(d, "550 5.7.1", list,
           "this list takes mail only from the organisation's own users, sent with authentication (submission)",
           "is internal", "the client is not authenticated");
    return 1;
}

static int allow_announce(const table_list *l, const char *list, const request *r, decision *d)
{
    const char *login = request_get(r, "sasl_username");
    if (*login && (is_owner(l, login) || is_owner(l, request_get(r, "sender")))) {
        decision_set(d, "DUNNO", "list: %s is an announce list, %s is an owner", list, login);
        return 0;
    }
    refuse(d, "550 5.7.1", list, "only the owners of this announce list may post to it",
           "is an announce list", *login ? "the login is not an owner" : "the client is not authenticated");
    return 1;
}

static const struct {
    const char *policy;
    policy_fn check;
} policies[] = {
    {"open", allow_open},
    {"internal", allow_internal},
    {"announce", allow_announce},
};

int listpolicy_check(const table *t, const request *r, decision *d)
{
    buf key = BUF_INIT, ext = BUF_INIT;
    split_recipient(request_get(r, "recipient"), &key, &ext);
    const table_list *l = key.len ? table_list_of(t, key.data) : NULL;
    int refused = 0;
    if (!l) {
        decision_set(d, "DUNNO", "list: not a list");
    } else if (strcmp(buf_cstr(&ext), "owner") == 0) {
        decision_set(d, "DUNNO", "list: %s+owner reaches the owners", key.data);
    } else {
        /* A policy the table parser accepted; anything else fails closed. */
        policy_fn check = NULL;
        for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
            if (strcmp(policies[i].policy, l->policy) == 0)
                check = policies[i].check;
        if (check) {
            refused = check(l, key.data, r, d);
        } else {
            refuse(d, "451 4.3.0", key.data, "the list's posting policy is not known here",
                   "has an unknown policy", l->policy);
            refused = 1;
        }
    }
    buf_free(&key);
    buf_free(&ext);
    return refused;
}
