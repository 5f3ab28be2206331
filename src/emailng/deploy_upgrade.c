/* deploy_upgrade: see deploy_upgrade.h. */
#include "deploy_upgrade.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "process.h"
#include "yaml_config.h"

#define RECORD_MAX (64 * 1024)
#define OUR_PREFIX "emailng"

/* A build's name becomes a folder on every host: a plain file name. */
static int valid_build_name(const char *name)
{
    if (name[0] == '\0' || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.'
              || *p == '_' || *p == '-' || *p == '+'))
            return 0;
    return 1;
}

static int is_our_program(const char *dir, const char *name)
{
    if (strncmp(name, OUR_PREFIX, strlen(OUR_PREFIX)) != 0)
        return 0;
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    int ok = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR);
    free(path);
    return ok;
}

/* A program (binary: fs_copy_file is for text) copied with its mode. */
static int copy_program(const char *from, const char *to, buf *err)
{
    const char *argv[] = {"/bin/cp", "--preserve=mode", from, to, NULL};
    buf out = BUF_INIT;
    int status = process_run(argv, NULL, &out, err);
    if (status > 0)
        buf_printf(err, "cp %s %s exited with %d: %s", from, to, status, buf_cstr(&out));
    buf_free(&out);
    return status == 0 ? 0 : -1;
}

int deploy_upgrade_stage_build(const char *state, const char *dir, char **name, buf *err)
{
    char *real = realpath(dir, NULL);
    if (real == NULL) {
        buf_printf(err, "--build %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *slash = strrchr(real, '/');
    const char *base = slash ? slash + 1 : real;
    int rc = 0;
    if (!valid_build_name(base)) {
        buf_printf(err, "--build %s: its name \"%s\" becomes a folder on every host: use letters, digits, "
                   ". _ - + (e.g. emailng-0.9.1)", dir, base);
        rc = -1;
    } else if (!is_our_program(real, "emailng")) {
        buf_printf(err, "--build %s: no program %s/emailng there (a build folder holds emailng and its daemons "
                   "emailng-*)", dir, real);
        rc = -1;
    }
    char *stage = xasprintf("%s/ansible/builds/%s", state, base);
    struct dirent **names = NULL;
    int n = 0, copied = 0;
    if (rc == 0)
        rc = fs_remove_tree(stage, err);
    if (rc == 0)
        rc = fs_mkdirs(stage, 0755, err);
    if (rc == 0 && (n = scandir(real, &names, NULL, alphasort)) < 0) {
        buf_printf(err, "cannot read %s: %s", real, strerror(errno));
        rc = -1;
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0 && is_our_program(real, names[i]->d_name)) {
            char *from = xasprintf("%s/%s", real, names[i]->d_name);
            char *to = xasprintf("%s/%s", stage, names[i]->d_name);
            rc = copy_program(from, to, err);
            copied += rc == 0;
            free(from);
            free(to);
        }
        free(names[i]);
    }
    free(names);
    /* One archive for the hosts: one transfer each (Ansible's copy of a
     * folder costs a round trip per file, ~25 s per host on the loaded
     * test machine; unarchive ~3 s). */
    char *archive = xasprintf("%s.tar.gz", stage);
    if (rc == 0) {
        const char *argv[] = {"/bin/tar", "-C", stage, "-czf", archive, ".", NULL};
        buf out = BUF_INIT;
        int status = process_run(argv, NULL, &out, err);
        if (status > 0)
            buf_printf(err, "tar -czf %s exited with %d: %s", archive, status, buf_cstr(&out));
        rc = status == 0 ? 0 : -1;
        buf_free(&out);
    }
    if (rc == 0) {
        printf("  build %s: %d program%s of %s staged in %s (and %s)\n", base, copied, copied == 1 ? "" : "s", real,
               stage, archive);
        *name = xstrdup(base);
    }
    free(archive);
    free(stage);
    free(real);
    return rc;
}

int deploy_is_control_state(const char *state)
{
    char *inventory = xasprintf("%s/ansible/inventory.yml", state);
    int yes = fs_exists(inventory);
    free(inventory);
    return yes;
}

/* One record file: a mapping of single values, as the playbook writes it. */
struct record {
    char *values[7];
};
static const char *const record_keys[] = {"host", "role", "step", "time", "program", "failed_task", "message", NULL};
enum { R_HOST, R_ROLE, R_STEP, R_TIME, R_PROGRAM, R_FAILED_TASK, R_MESSAGE };
static const char *const run_keys[] = {"started", "build", NULL};

/* Reads FILE's keys (allowed) into values; 0 if it is missing (values
 * stay NULL), -1 with err if it does not parse. */
static int read_record(const char *path, const char *const *allowed, char **values, buf *err)
{
    if (!fs_exists(path))
        return 0;
    ycfg y;
    int rc = ycfg_load(&y, path, RECORD_MAX, 0, err);
    ycfg_map m;
    if (rc == 0)
        rc = ycfg_map_begin(&y, y.root, "", allowed, &m);
    else
        memset(&m, 0, sizeof m);
    while (rc == 0 && (rc = ycfg_map_next(&m)) > 0)
        rc = ycfg_str(&y, m.value, m.path, &values[m.index]);
    ycfg_map_end(&m);
    ycfg_free(&y);
    return rc < 0 ? -1 : 0;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static void json_member(buf *json, const char *key, const char *value, int first)
{
    buf_printf(json, "%s\"%s\":", first ? "" : ",", key);
    cli_json_string(json, or_empty(value));
}

/* The words for a host's step of the roll. */
static const struct {
    const char *step;
    const char *meaning;
} steps[] = {
    {"draining", "draining (the roll stopped here: drained or part drained)"},
    {"upgrading", "upgrading (drained)"},
    {"undraining", "giving back (part drained)"},
    {"done", "upgraded and serving"},
    {"failed", "FAILED, stays drained"},
};

static const char *step_meaning(const char *step)
{
    for (size_t i = 0; step && i < sizeof steps / sizeof steps[0]; i++)
        if (strcmp(steps[i].step, step) == 0)
            return steps[i].meaning;
    return step ? step : "not rolled";
}

int deploy_upgrade_status(const struct site *site, const char *state, int json)
{
    char *dir = xasprintf("%s/ansible/upgrade", state);
    char *run_file = xasprintf("%s/run.yml", dir);
    char *run[2] = {NULL, NULL};
    buf err = BUF_INIT, out = BUF_INIT, js = BUF_INIT;
    int rc = read_record(run_file, run_keys, run, &err) == 0 ? 0 : 1;
    const char *stopped_at = NULL;
    buf_append_str(&js, "{\"site\":");
    cli_json_string(&js, site->name);
    buf_append_str(&js, ",\"deployed\":true,\"upgrade\":");
    buf_printf(&out, "emailng: site %s, deployed from this control host (%s/ansible); each host's daemons: "
               "`emailng status --host NAME` on it\n", site->name, state);
    if (rc == 0 && run[0] == NULL) {
        buf_append_str(&js, "null");
        buf_append_str(&out, "no rolling upgrade recorded (`emailng deploy --upgrade`)\n");
    } else if (rc == 0) {
        buf_append_char(&js, '{');
        json_member(&js, "started", run[0], 1);
        json_member(&js, "build", run[1], 0);
        buf_append_str(&js, ",\"hosts\":[");
        buf_printf(&out, "rolling upgrade started %s%s%s:\n%-8s %-10s %-36s %-28s %s\n", run[0],
                   run[1] && *run[1] ? ", build " : "", or_empty(run[1]), "HOST", "ROLE", "STEP", "SINCE",
                   "PROGRAM");
        for (size_t i = 0; i < site->n_hosts; i++) {
            const struct site_host *h = &site->hosts[i];
            char *file = xasprintf("%s/%s.yml", dir, h->name);
            struct record r = {{NULL}};
            if (read_record(file, record_keys, r.values, &err) != 0)
                rc = 1;
            const char *step = r.values[R_STEP];
            buf roles = BUF_INIT;
            site_roles_text(h->roles, &roles);
            buf_printf(&js, "%s{", i ? "," : "");
            json_member(&js, "name", h->name, 1);
            json_member(&js, "role", buf_cstr(&roles), 0);
            buf_append_str(&js, ",\"step\":");
            if (step)
                cli_json_string(&js, step);
            else
                buf_append_str(&js, "null");
            json_member(&js, "time", r.values[R_TIME], 0);
            json_member(&js, "program", r.values[R_PROGRAM], 0);
            json_member(&js, "failed_task", r.values[R_FAILED_TASK], 0);
            json_member(&js, "message", r.values[R_MESSAGE], 0);
            buf_append_char(&js, '}');
            buf_printf(&out, "%-8s %-10s %-36s %-28s %s\n", h->name, buf_cstr(&roles), step_meaning(step),
                       r.values[R_TIME] ? r.values[R_TIME] : "-", r.values[R_PROGRAM] ? r.values[R_PROGRAM] : "-");
            if (step && strcmp(step, "failed") == 0) {
                stopped_at = stopped_at ? stopped_at : h->name;
                buf_printf(&out, "         failed at \"%s\": %s\n", or_empty(r.values[R_FAILED_TASK]),
                           or_empty(r.values[R_MESSAGE]));
            }
            buf_free(&roles);
            for (size_t k = 0; k < sizeof r.values / sizeof r.values[0]; k++)
                free(r.values[k]);
            free(file);
        }
        buf_append_str(&js, "],\"stopped_at\":");
        if (stopped_at)
            cli_json_string(&js, stopped_at);
        else
            buf_append_str(&js, "null");
        buf_append_char(&js, '}');
        if (stopped_at)
            buf_printf(&out, "the roll stopped at %s: it stays drained, the hosts not rolled were not touched; "
                       "fix it and run `emailng deploy --upgrade` again\n", stopped_at);
    }
    buf_append_char(&js, '}');
    if (rc != 0)
        fprintf(stderr, "emailng: status: the record of the rolling upgrade in %s: %s\n", dir, buf_cstr(&err));
    else
        fputs(json ? buf_cstr(&js) : buf_cstr(&out), stdout);
    if (rc == 0 && json)
        putchar('\n');
    for (int i = 0; i < 2; i++)
        free(run[i]);
    free(run_file);
    free(dir);
    buf_free(&err);
    buf_free(&out);
    buf_free(&js);
    return rc != 0 || stopped_at ? 1 : 0;
}
