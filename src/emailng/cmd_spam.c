/* cmd_spam: a user's spam threshold and allow/deny lists; see cmd_spam.h. */
#include "cmd_spam.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"
#include "cli.h"
#include "directory.h"

#define SPAM_USAGE "usage: emailng user spam ADDRESS [--threshold N|default] [--allow SENDER] " \
                   "[--deny SENDER] [--unallow SENDER] [--undeny SENDER]\n"

/* "4.5", "5", "10.0" -> "4.5", "5.0", "10.0"; 0.5 .. 10.0. */
static int normalize_threshold(const char *text, buf *out)
{
    int whole = 0, digits = 0, tenth = 0;
    const char *p = text;
    while (isdigit((unsigned char)*p) && digits < 3) {
        whole = whole * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == '.' && isdigit((unsigned char)p[1])) {
        tenth = p[1] - '0';
        p += 2;
    }
    int tenths = whole * 10 + tenth;
    if (digits == 0 || *p != '\0' || tenths < 5 || tenths > 100)
        return -1;
    buf_printf(out, "%d.%d", tenths / 10, tenths % 10);
    return 0;
}

/* An address ("x@example.org") or a whole domain ("@example.org"). */
static int normalize_sender(const char *text, buf *out, buf *err)
{
    if (text[0] == '@') {
        buf domain = BUF_INIT;
        int rc = domain_normalize(text + 1, &domain, err);
        if (rc == 0 && strchr(buf_cstr(&domain), '.') == NULL) {
            cli_quote(err, text + 1);
            buf_append_str(err, " is not a domain; expected e.g. @example.org");
            rc = -1;
        }
        if (rc == 0)
            buf_printf(out, "@%s", buf_cstr(&domain));
        buf_free(&domain);
        return rc;
    }
    if (strchr(text, '@') == NULL) {
        cli_quote(err, text);
        buf_append_str(err, " is neither an address nor @domain");
        return -1;
    }
    if (address_normalize(text, NULL, out, err) != 0)
        return -1;
    /* the Sieve script compares lower-case text */
    for (size_t i = 0; i < out->len; i++)
        out->data[i] = (char)tolower((unsigned char)out->data[i]);
    return 0;
}

static void print_values(const char *label, char **values, size_t n)
{
    printf("%s:", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : " ", values[i]);
    printf("%s\n", n ? "" : " none");
}

static void free_values(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
}

static int show(struct directory *d, const char *address, buf *err)
{
    static const char *const attrs[] = {"emailngSpamThreshold", "emailngSpamAllow", "emailngSpamDeny"};
    static const char *const labels[] = {"threshold", "allow", "deny"};
    for (size_t i = 0; i < 3; i++) {
        char **values = NULL;
        size_t n = 0;
        if (directory_user_get_values(d, address, attrs[i], &values, &n, err) != 0)
            return -1;
        if (i == 0)
            printf("threshold: %s\n", n ? values[0] : "default (the site's filter.spam_junk_level)");
        else
            print_values(labels[i], values, n);
        free_values(values, n);
    }
    printf("address: %s\n", address);
    return 0;
}

int cmd_user_spam(int argc, char **argv, const struct directory_target *t)
{
    const char *address_arg = NULL;
    const char *threshold_arg = NULL;
    struct directory_list_edit *changes = xcalloc((size_t)argc + 1, sizeof *changes);
    size_t n_changes = 0;
    buf err = BUF_INIT, address = BUF_INIT, threshold = BUF_INIT;
    int rc = 0;
    for (int i = 1; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        const char *attr = NULL;
        int add = 1;
        if (strcmp(a, "--allow") == 0) {
            attr = "emailngSpamAllow";
        } else if (strcmp(a, "--deny") == 0) {
            attr = "emailngSpamDeny";
        } else if (strcmp(a, "--unallow") == 0) {
            attr = "emailngSpamAllow";
            add = 0;
        } else if (strcmp(a, "--undeny") == 0) {
            attr = "emailngSpamDeny";
            add = 0;
        } else if (strcmp(a, "--threshold") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "emailng: user spam: --threshold needs a score or \"default\"\n" SPAM_USAGE);
                rc = 2;
                break;
            }
            threshold_arg = argv[++i];
            continue;
        } else if (a[0] == '-') {
            char *w = cli_quoted(a);
            fprintf(stderr, "emailng: user spam: unknown option %s\n" SPAM_USAGE, w);
            free(w);
            rc = 2;
            break;
        } else if (address_arg == NULL) {
            address_arg = a;
            continue;
        } else {
            char *w = cli_quoted(a);
            fprintf(stderr, "emailng: user spam: unexpected argument %s\n" SPAM_USAGE, w);
            free(w);
            rc = 2;
            break;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "emailng: user spam: %s needs a sender address or @domain\n" SPAM_USAGE, a);
            rc = 2;
            break;
        }
        buf sender = BUF_INIT;
        if (normalize_sender(argv[++i], &sender, &err) != 0) {
            fprintf(stderr, "emailng: user spam: %s: %s\n", a, buf_cstr(&err));
            buf_free(&sender);
            rc = 1;
            break;
        }
        changes[n_changes].attr = attr;
        changes[n_changes].add = add;
        changes[n_changes].value = buf_steal(&sender);
        n_changes++;
    }
    if (rc == 0 && address_arg == NULL) {
        fputs("emailng: user spam: missing ADDRESS\n" SPAM_USAGE, stderr);
        rc = 2;
    }
    if (rc == 0 && address_normalize(address_arg, t->primary_domain, &address, &err) != 0) {
        fprintf(stderr, "emailng: user spam: %s\n", buf_cstr(&err));
        rc = 1;
    }
    if (rc == 0 && threshold_arg && strcmp(threshold_arg, "default") != 0
        && normalize_threshold(threshold_arg, &threshold) != 0) {
        char *w = cli_quoted(threshold_arg);
        fprintf(stderr, "emailng: user spam: --threshold %s is not a score from 0.5 to 10.0 with at "
                "most one decimal (or \"default\")\n", w);
        free(w);
        rc = 2;
    }
    struct directory *d = NULL;
    if (rc == 0 && directory_open(&d, t->ldap_uri, t->base, &err) != 0) {
        fprintf(stderr, "emailng: user spam: %s\n", buf_cstr(&err));
        rc = 1;
    }
    const char *addr = buf_cstr(&address);
    if (rc == 0 && threshold_arg) {
        const char *value = buf_cstr(&threshold);
        if (directory_user_set_values(d, addr, "emailngSpamThreshold", &value, threshold.len ? 1 : 0, &err) != 0)
            rc = 1;
    }
    if (rc == 0 && directory_user_edit_lists(d, addr, changes, n_changes, NULL, &err) != 0)
        rc = 1;
    if (rc == 0 && show(d, addr, &err) != 0)
        rc = 1;
    if (rc == 1 && err.len)
        fprintf(stderr, "emailng: user spam: %s\n", buf_cstr(&err));
    directory_close(d);
    for (size_t i = 0; i < n_changes; i++)
        free((char *)changes[i].value);  /* buf_steal'd above */
    free(changes);
    buf_free(&err);
    buf_free(&address);
    buf_free(&threshold);
    return rc;
}
