/* junk_request: parsing the webmail's junk reports; see junk_request.h. */
#include "junk_request.h"

#include <stdlib.h>
#include <string.h>

struct verdict_entry {
    const char *name;
    enum junk_verdict verdict;
    const char *list, *other_list;
};

static const struct verdict_entry verdicts[] = {
    {"spam", JUNK_SPAM, "emailngSpamDeny", "emailngSpamAllow"},
    {"ham", JUNK_HAM, "emailngSpamAllow", "emailngSpamDeny"},
};

static const struct verdict_entry *verdict_entry(enum junk_verdict v)
{
    for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++)
        if (verdicts[i].verdict == v)
            return &verdicts[i];
    return &verdicts[0];
}

const char *junk_verdict_list(enum junk_verdict v) { return verdict_entry(v)->list; }
const char *junk_verdict_other_list(enum junk_verdict v) { return verdict_entry(v)->other_list; }
const char *junk_verdict_name(enum junk_verdict v) { return verdict_entry(v)->name; }

/* One address field, normalised and lower-cased. */
static int take_address(const char *what, const char *text, buf *out, buf *err)
{
    buf why = BUF_INIT;
    int rc = address_normalize(text, NULL, out, &why);
    if (rc != 0) {
        buf_reset(err);
        buf_printf(err, "%s: %s", what, buf_cstr(&why));
    }
    for (size_t i = 0; rc == 0 && i < out->len; i++)
        if (out->data[i] >= 'A' && out->data[i] <= 'Z')
            out->data[i] = (char)(out->data[i] - 'A' + 'a');
    buf_free(&why);
    return rc;
}

int junk_request_parse(const char *line, struct junk_request *r, buf *err)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->user);
    buf_init(&r->sender);
    size_t len = strlen(line);
    if (len > JUNK_REQUEST_MAX) {
        buf_reset(err);
        buf_printf(err, "request longer than %d bytes", JUNK_REQUEST_MAX);
        return -1;
    }
    const char *sp1 = strchr(line, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
        buf_reset(err);
        buf_append_str(err, "expected: spam|ham USER SENDER, got ");
        address_quote_cut(err, line);
        return -1;
    }
    const struct verdict_entry *found = NULL;
    for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++)
        if ((size_t)(sp1 - line) == strlen(verdicts[i].name) && strncmp(line, verdicts[i].name, (size_t)(sp1 - line)) == 0)
            found = &verdicts[i];
    if (found == NULL) {
        /* the verdict's bytes may be hostile: quoted, and cut */
        char *verdict = xstrndup(line, (size_t)(sp1 - line));
        buf_reset(err);
        buf_append_str(err, "unknown verdict ");
        address_quote_cut(err, verdict);
        buf_append_str(err, " (expected spam or ham)");
        free(verdict);
        return -1;
    }
    r->verdict = found->verdict;
    buf user = BUF_INIT;
    buf_append(&user, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    int rc = take_address("user", buf_cstr(&user), &r->user, err);
    buf_free(&user);
    if (rc == 0)
        rc = take_address("sender", sp2 + 1, &r->sender, err);
    return rc;
}

void junk_request_free(struct junk_request *r)
{
    buf_free(&r->user);
    buf_free(&r->sender);
}
