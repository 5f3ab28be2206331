/* cmd_quota_list: users' quota usage from the stores; see cmd_quota_list.h. */
#include "cmd_quota_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "fabric.h"
#include "quota_usage.h"
#include "store_pairs.h"

#define USAGE "usage: emailng user list --quota [--over PERCENT] [--json]\n"

int cmd_quota_list_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quota") == 0 || strcmp(argv[i], "--over") == 0)
            return 1;
    return 0;
}

/* The pair's usage rows from its first store that answers. */
static int pair_usage(const struct directory_target *t, const char *pair, struct quota_usage_list *list, buf *err)
{
    int answered = 0;
    for (size_t i = 0; i < t->site->n_hosts && !answered; i++) {
        const struct site_host *h = &t->site->hosts[i];
        if (!(h->roles & ROLE_STORE) || h->store_pair == NULL || strcmp(h->store_pair, pair) != 0)
            continue;
        char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", t->state_dir, h->name);
        const char *argv[] = {"/usr/bin/doveadm", "-c", conf, "-f", "tab", "quota", "get", "-A", NULL};
        buf out = BUF_INIT, run_err = BUF_INIT;
        int status = fabric_run_on_host(t->state_dir, h->name, argv, &out, &run_err);
        if (status == 0) {
            answered = 1;
            if (quota_usage_parse(buf_cstr(&out), pair, list, err) != 0) {
                buf_printf(err, " (from %s)", h->name);
                answered = -1;
            }
        } else {
            fprintf(stderr, "emailng: user list --quota: %s (pair %s) did not answer: %s\n", h->name, pair,
                    status < 0 ? buf_cstr(&run_err) : "doveadm quota get failed");
        }
        buf_free(&out);
        buf_free(&run_err);
        free(conf);
    }
    if (answered == 0)
        buf_printf(err, "no store of pair %s answered", pair);
    return answered == 1 ? 0 : -1;
}

static void print_size(unsigned long long bytes, buf *out)
{
    static const char units[] = "KMGT";
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units - 1) {
        v /= 1024.0;
        u++;
    }
    buf_printf(out, "%.1f%c", v, units[u]);
}

static void print_list(const struct quota_usage_list *list, int json)
{
    buf line = BUF_INIT;
    if (json) {
        buf_append_str(&line, "{\"users\":[");
        for (size_t i = 0; i < list->n; i++) {
            const struct quota_usage *u = &list->items[i];
            buf_append_str(&line, i ? ",{\"address\":" : "{\"address\":");
            cli_json_string(&line, u->user);
            buf_printf(&line, ",\"pair\":");
            cli_json_string(&line, u->pair);
            buf_printf(&line, ",\"used_bytes\":%llu", u->used_bytes);
            if (u->limit_bytes)
                buf_printf(&line, ",\"limit_bytes\":%llu,\"percent\":%.1f}", u->limit_bytes, u->percent);
            else
                buf_append_str(&line, ",\"limit_bytes\":null,\"percent\":null}");
        }
        buf_append_str(&line, "]}");
        puts(buf_cstr(&line));
        buf_free(&line);
        return;
    }
    printf("%-40s %10s %10s %7s %s\n", "ADDRESS", "USED", "LIMIT", "USED%", "PAIR");
    for (size_t i = 0; i < list->n; i++) {
        const struct quota_usage *u = &list->items[i];
        buf used = BUF_INIT, limit = BUF_INIT, pct = BUF_INIT;
        print_size(u->used_bytes, &used);
        if (u->limit_bytes) {
            print_size(u->limit_bytes, &limit);
            buf_printf(&pct, "%.1f", u->percent);
        } else {
            buf_append_str(&limit, "none");
            buf_append_str(&pct, "-");
        }
        printf("%-40s %10s %10s %7s %s\n", u->user, buf_cstr(&used), buf_cstr(&limit), buf_cstr(&pct), u->pair);
        buf_free(&used);
        buf_free(&limit);
        buf_free(&pct);
    }
}

int cmd_quota_list(int argc, char **argv, const struct directory_target *t)
{
    double over = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quota") == 0)
            continue;
        if (strcmp(argv[i], "--over") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            over = strtod(argv[++i], &end);
            if (errno || end == argv[i] || *end != '\0' || over < 0 || over > 1000) {
                char *q = cli_quoted(argv[i]);
                fprintf(stderr, "emailng: user list: --over %s: expected a percentage (0 to 1000)\n" USAGE, q);
                free(q);
                return EXIT_USAGE;
            }
            continue;
        }
        char *q = cli_quoted(argv[i]);
        fprintf(stderr, "emailng: user list: unexpected argument %s\n" USAGE, q);
        free(q);
        return EXIT_USAGE;
    }
    struct quota_usage_list list = {0};
    buf err = BUF_INIT;
    int rc = EXIT_DONE;
    /* Each pair once: its stores hold the same users. */
    for (size_t i = 0; i < t->site->n_hosts; i++) {
        if (store_pair_first_host(t->site, i) && pair_usage(t, t->site->hosts[i].store_pair, &list, &err) != 0) {
            fprintf(stderr, "emailng: user list --quota: %s\n", buf_cstr(&err));
            buf_reset(&err);
            rc = EXIT_FAILED;
        }
    }
    if (over >= 0)
        quota_usage_keep_over(&list, over);
    quota_usage_sort(&list);
    print_list(&list, t->json);
    quota_usage_list_free(&list);
    buf_free(&err);
    return rc;
}
