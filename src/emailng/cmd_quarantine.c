/* cmd_quarantine: list, release and delete quarantined messages; see
 * cmd_quarantine.h. */
#include "cmd_quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "fabric.h"
#include "filter_services.h"
#include "fsutil.h"
#include "process.h"
#include "quarantine_name.h"
#include "services.h"

#define QUARANTINE_FILE_MAX (256ULL * 1024 * 1024)

/* amavisd's file names (quarantine_name.h). */
static int valid_id(const char *id)
{
    return quarantine_name_type(id) >= 0;
}

/* The value of header `name` among the leading headers of text (unfolded,
 * at most 200 characters), or "" . */
static void header_value(const char *text, const char *name, buf *out)
{
    size_t name_len = strlen(name);
    const char *p = text;
    while (*p && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > name_len && strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') {
            const char *v = p + name_len + 1;
            for (;;) {
                const char *end = eol ? eol : v + strlen(v);
                while (v < end && (*v == ' ' || *v == '\t'))
                    v++;
                size_t n = (size_t)(end - v);
                if (n && v[n - 1] == '\r')
                    n--;
                if (out->len + n < 200)
                    buf_append(out, v, n);
                if (!eol || (eol[1] != ' ' && eol[1] != '\t'))
                    break;
                buf_append_char(out, ' ');
                v = eol + 1;
                eol = strchr(v, '\n');
            }
            return;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
}

/* Addresses inside <...> of a header value. */
static size_t angle_addresses(const char *value, char ***out)
{
    size_t n = 0;
    *out = NULL;
    for (const char *p = strchr(value, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        if (!end)
            break;
        *out = xrealloc(*out, (n + 2) * sizeof **out);
        (*out)[n++] = xstrndup(p + 1, (size_t)(end - p - 1));
        (*out)[n] = NULL;
    }
    return n;
}

/* The first `max` bytes of a file (its header, for listing). */
static int read_head(const char *path, size_t max, buf *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char chunk[8192];
    size_t n;
    while (out->len < max && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    int failed = ferror(f);
    fclose(f);
    return failed ? -1 : 0;
}

/* Prints one relay's quarantine, or (json != NULL) appends its messages
 * to json as objects separated by commas. */
static int list(const char *dir, buf *json)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) {
            if (json == NULL)
                printf("the quarantine is empty\n");
            return 0;
        }
        fprintf(stderr, "emailng: quarantine list: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct dirent *de;
    unsigned long long total = 0;
    size_t count = 0;
    if (json == NULL)
        printf("%-22s %-19s %9s  %-30s %-30s %s\n", "ID", "DATE", "BYTES", "FROM", "TO", "SUBJECT");
    while ((de = readdir(d)) != NULL) {
        if (!valid_id(de->d_name))
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        buf text = BUF_INIT, err = BUF_INIT, from = BUF_INIT, to = BUF_INIT, subject = BUF_INIT;
        if (stat(path, &st) == 0 && read_head(path, 64 * 1024, &text) == 0) {
            header_value(buf_cstr(&text), "X-Envelope-From", &from);
            header_value(buf_cstr(&text), "X-Envelope-To", &to);
            header_value(buf_cstr(&text), "Subject", &subject);
            char when[32];
            struct tm tm;
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&st.st_mtime, &tm));
            if (json == NULL) {
                printf("%-22s %-19s %9lld  %-30s %-30s %s\n", de->d_name, when, (long long)st.st_size,
                       buf_cstr(&from), buf_cstr(&to), buf_cstr(&subject));
            } else {
                buf_printf(json, "%s{\"id\":", json->len && json->data[json->len - 1] != '[' ? "," : "");
                cli_json_string(json, de->d_name);
                buf_printf(json, ",\"date\":\"%s\",\"bytes\":%lld,\"from\":", when, (long long)st.st_size);
                cli_json_string(json, buf_cstr(&from));
                buf_append_str(json, ",\"to\":");
                cli_json_string(json, buf_cstr(&to));
                buf_append_str(json, ",\"subject\":");
                cli_json_string(json, buf_cstr(&subject));
                buf_append_char(json, '}');
            }
            total += (unsigned long long)st.st_size;
            count++;
        }
        buf_free(&text);
        buf_free(&err);
        buf_free(&from);
        buf_free(&to);
        buf_free(&subject);
        free(path);
    }
    closedir(d);
    if (json == NULL)
        printf("%zu message(s), %llu bytes\n", count, total);
    return 0;
}

/* The message without amavisd's leading X-Envelope-From/-To and
 * X-Quarantine-ID lines, which only make sense inside the quarantine. */
static void strip_envelope_headers(const char *text, buf *out)
{
    static const char *const names[] = {"X-Envelope-From:", "X-Envelope-To:", "X-Quarantine-ID:", "Return-Path:"};
    const char *p = text;
    int dropping = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (*p == '\n' || (p[0] == '\r' && p[1] == '\n'))
            break;                               /* end of the header */
        if (*p == ' ' || *p == '\t') {
            if (!dropping)
                buf_append(out, p, len);
        } else {
            dropping = 0;
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                if (strncasecmp(p, names[i], strlen(names[i])) == 0)
                    dropping = 1;
            if (!dropping)
                buf_append(out, p, len);
        }
        p += len;
    }
    buf_append_str(out, p);
}

static int release(const struct service_env *env, const char *path, const char *id)
{
    buf text = BUF_INIT, err = BUF_INIT, from = BUF_INIT, to = BUF_INIT, message = BUF_INIT, output = BUF_INIT;
    char **rcpts = NULL;
    int rc = 1;
    if (fs_read_file(path, QUARANTINE_FILE_MAX, &text, &err) != 0) {
        fprintf(stderr, "emailng: quarantine release: %s\n", buf_cstr(&err));
        goto out;
    }
    if (memchr(text.data, '\0', text.len) != NULL) {
        fprintf(stderr, "emailng: quarantine release: %s contains NUL bytes; cannot re-send it\n", id);
        goto out;
    }
    header_value(buf_cstr(&text), "X-Envelope-From", &from);
    header_value(buf_cstr(&text), "X-Envelope-To", &to);
    size_t n_rcpts = angle_addresses(buf_cstr(&to), &rcpts);
    char **sender = NULL;
    size_t n_sender = angle_addresses(buf_cstr(&from), &sender);
    if (n_rcpts == 0) {
        fprintf(stderr, "emailng: quarantine release: %s names no recipient (X-Envelope-To)\n", id);
        for (size_t i = 0; i < n_sender; i++)
            free(sender[i]);
        free(sender);
        goto out;
    }
    strip_envelope_headers(buf_cstr(&text), &message);
    char *conf = xasprintf("%s/postfix", render_context_get(&env->ctx, "etc_dir"));
    const char **argv = xcalloc(n_rcpts + 13, sizeof *argv);
    size_t a = 0;
    /* A relay of the test fabric: its sendmail must run in the relay's
     * network namespace (Postfix checks inet_interfaces against the
     * interfaces it sees). A real relay runs this on itself. */
    char *prefix = fabric_prefix(render_context_get(&env->ctx, "state_dir"));
    char *ns = NULL;
    if (env->site->n_hosts > 1 && fabric_exists(prefix)) {
        ns = xasprintf("%s-%s", prefix, env->host->name);
        argv[a++] = "/usr/sbin/ip";
        argv[a++] = "netns";
        argv[a++] = "exec";
        argv[a++] = ns;
    }
    argv[a++] = "/usr/sbin/sendmail";
    argv[a++] = "-C";
    argv[a++] = conf;
    argv[a++] = "-i";
    argv[a++] = "-f";
    argv[a++] = n_sender ? sender[0] : "";
    argv[a++] = "--";
    for (size_t i = 0; i < n_rcpts; i++)
        argv[a++] = rcpts[i];
    argv[a] = NULL;
    int status = process_run(argv, buf_cstr(&message), &output, &err);
    if (status != 0) {
        fprintf(stderr, "emailng: quarantine release: sendmail failed (%d): %s%s\n", status,
                buf_cstr(&err), buf_cstr(&output));
    } else if (unlink(path) != 0) {
        fprintf(stderr, "emailng: quarantine release: re-sent, but cannot delete %s: %s\n", path, strerror(errno));
    } else {
        printf("released %s to %s\n", id, buf_cstr(&to));
        rc = 0;
    }
    free(argv);
    free(ns);
    free(prefix);
    free(conf);
    for (size_t i = 0; i < n_sender; i++)
        free(sender[i]);
    free(sender);
    for (size_t i = 0; i < n_rcpts; i++)
        free(rcpts[i]);
out:
    free(rcpts);
    buf_free(&text);
    buf_free(&err);
    buf_free(&from);
    buf_free(&to);
    buf_free(&message);
    buf_free(&output);
    return rc;
}

/* One relay's quarantine: list it, or release/delete argv[1] there. */
static int quarantine_on(const struct site *site, const struct site_host *relay, const char *state_dir,
                         int is_list, int is_release, char **argv, buf *json)
{
    struct service_env env;
    buf err = BUF_INIT;
    if (service_env_init(&env, site, relay, state_dir, &err) != 0) {
        fprintf(stderr, "emailng: quarantine: %s\n", buf_cstr(&err));
        service_env_free(&env);
        buf_free(&err);
        return 1;
    }
    char *dir = filter_quarantine_dir(&env);
    int rc;
    if (is_list) {
        rc = list(dir, json);
    } else {
        char *path = xasprintf("%s/%s", dir, argv[1]);
        if (!fs_exists(path)) {
            fprintf(stderr, "emailng: quarantine %s: no message %s in the quarantine of %s\n", argv[0], argv[1],
                    relay->name);
            rc = 1;
        } else if (is_release) {
            rc = release(&env, path, argv[1]);
        } else if (unlink(path) != 0) {
            fprintf(stderr, "emailng: quarantine delete: %s: %s\n", path, strerror(errno));
            rc = 1;
        } else {
            printf("deleted %s\n", argv[1]);
            rc = 0;
        }
        free(path);
    }
    free(dir);
    service_env_free(&env);
    buf_free(&err);
    return rc;
}

/* Whether relay's quarantine holds the message id. */
static int holds(const struct site *site, const struct site_host *relay, const char *state_dir, const char *id)
{
    struct service_env env;
    buf err = BUF_INIT;
    int found = 0;
    if (service_env_init(&env, site, relay, state_dir, &err) == 0) {
        char *dir = filter_quarantine_dir(&env);
        char *path = xasprintf("%s/%s", dir, id);
        found = fs_exists(path);
        free(path);
        free(dir);
    }
    service_env_free(&env);
    buf_free(&err);
    return found;
}

int cmd_quarantine(const struct site *site, const char *state_dir, const char *host, int json, int argc,
                   char **argv)
{
    static const char usage[] = "usage: emailng quarantine list | release ID | delete ID  [--host RELAY]\n";
    int is_list = argc == 1 && strcmp(argv[0], "list") == 0;
    int is_release = argc == 2 && strcmp(argv[0], "release") == 0;
    int is_delete = argc == 2 && strcmp(argv[0], "delete") == 0;
    if (!is_list && !is_release && !is_delete) {
        fputs(usage, stderr);
        return 2;
    }
    if ((is_release || is_delete) && !valid_id(argv[1])) {
        buf shown = BUF_INIT;
        cli_quote(&shown, argv[1]);
        fprintf(stderr, "emailng: quarantine %s: %s is not a quarantine ID (see `emailng quarantine list`)\n",
                argv[0], buf_cstr(&shown));
        buf_free(&shown);
        return 2;
    }
    const struct site_host **relays = xcalloc(site->n_hosts + 1, sizeof *relays);
    size_t n_relays = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((site->hosts[i].roles & ROLE_RELAY) && (host == NULL || strcmp(host, site->hosts[i].name) == 0))
            relays[n_relays++] = &site->hosts[i];
    if (n_relays == 0) {
        if (host)
            fprintf(stderr, "emailng: quarantine: %s is not a relay; every relay keeps its own quarantine "
                    "(see `emailng status`)\n", host);
        else
            fprintf(stderr, "emailng: quarantine: the site has no relay host\n");
        free(relays);
        return 1;
    }
    /* Each relay has its own quarantine (amavisd runs on every relay):
     * list shows every relay's (a "== relayN" heading per relay when there
     * are several); release and delete act on the relay holding the ID. */
    if (is_list) {
        int rc = 0;
        buf out = BUF_INIT;
        buf_append_str(&out, "{\"relays\":[");
        for (size_t i = 0; i < n_relays; i++) {
            if (json) {
                buf_printf(&out, "%s{\"name\":", i ? "," : "");
                cli_json_string(&out, relays[i]->name);
                buf_append_str(&out, ",\"messages\":[");
            } else if (n_relays > 1) {
                printf("%s== %s\n", i ? "\n" : "", relays[i]->name);
            }
            if (quarantine_on(site, relays[i], state_dir, 1, 0, argv, json ? &out : NULL) != 0)
                rc = 1;
            if (json)
                buf_append_str(&out, "]}");
        }
        buf_append_str(&out, "]}");
        if (json && rc == 0)
            puts(buf_cstr(&out));
        buf_free(&out);
        free(relays);
        return rc;
    }
    const struct site_host *holder = NULL;
    for (size_t i = 0; i < n_relays && holder == NULL; i++)
        if (holds(site, relays[i], state_dir, argv[1]))
            holder = relays[i];
    int rc;
    if (holder == NULL && n_relays > 1) {
        fprintf(stderr, "emailng: quarantine %s: no message %s in the quarantine of any relay\n", argv[0], argv[1]);
        rc = 1;
    } else {
        rc = quarantine_on(site, holder ? holder : relays[0], state_dir, 0, is_release, argv, NULL);
    }
    free(relays);
    return rc;
}
