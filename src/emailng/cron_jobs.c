/* cron_jobs: the daily jobs' file in /etc/cron.d; see cron_jobs.h. */
#include "cron_jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fabric.h"
#include "fsutil.h"

#define CRON_DIR "/etc/cron.d"

static int alt_wanted(const struct site *site, const struct site_host *h)
{
    return (h->roles & ROLE_STORE) && site->storage.alt_path != NULL;
}

static int fts_wanted(const struct site *site, const struct site_host *h)
{
    return (h->roles & ROLE_STORE) && site->search.fts;
}

/* Minutes away from the hour and from each other, when mail is quiet. */
static const struct cron_job {
    const char *when;
    const char *command;        /* emailng's arguments */
    const char *log;            /* STATE/log/LOG */
    const char *why;
    int (*wanted)(const struct site *, const struct site_host *);
} jobs[] = {
    {"17 3 * * *", "storage altmove", "altmove.log",
     "old mail moves to each store's ALT storage (storage.alt_after_days)", alt_wanted},
    {"43 4 * * *", "fts optimize --all", "fts-optimize.log",
     "expunged messages leave the stores' full-text indexes, which are compacted", fts_wanted},
};
#define N_JOBS (sizeof jobs / sizeof jobs[0])

/* The path of the running program (/proc/self/exe), however long: the
 * program that runs now is the one cron should run. */
static char *self_path(buf *err)
{
    for (size_t size = 256; size <= 65536; size *= 2) {
        char *path = xmalloc(size);
        ssize_t n = readlink("/proc/self/exe", path, size);
        if (n < 0) {
            buf_printf(err, "cannot find the emailng program (/proc/self/exe): %s", strerror(errno));
            free(path);
            return NULL;
        }
        if ((size_t)n < size) {
            path[n] = '\0';
            return path;
        }
        free(path);
    }
    buf_printf(err, "cannot find the emailng program (/proc/self/exe): path too long");
    return NULL;
}

static int job_wanted(const struct cron_job *job, const struct site *site, const char *host)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((host == NULL || strcmp(host, site->hosts[i].name) == 0) && job->wanted(site, &site->hosts[i]))
            return 1;
    return 0;
}

int cron_jobs_remove(const char *state_dir, buf *err)
{
    char *path = fabric_system_file(CRON_DIR, state_dir);
    int rc = fs_remove_tree(path, err);
    free(path);
    return rc;
}

int cron_jobs_install(const struct site *site, const char *state_dir, const char *host, buf *err)
{
    int wanted[N_JOBS], any = 0;
    for (size_t j = 0; j < N_JOBS; j++)
        any |= wanted[j] = job_wanted(&jobs[j], site, host);
    if (!any)
        return cron_jobs_remove(state_dir, err);
    if (!fs_exists(CRON_DIR)) {
        printf("  cron is not installed (%s missing): run daily yourself:\n", CRON_DIR);
        for (size_t j = 0; j < N_JOBS; j++)
            if (wanted[j])
                printf("    emailng --state %s %s%s%s\n", state_dir, jobs[j].command, host ? " --host " : "",
                       host ? host : "");
        return 0;
    }
    char *self = self_path(err);
    if (self == NULL)
        return -1;
    buf text = BUF_INIT;
    buf_printf(&text, "# Written by `emailng up` for the state directory %s; `emailng down` removes it.\n", state_dir);
    for (size_t j = 0; j < N_JOBS; j++)
        if (wanted[j])
            buf_printf(&text, "# Daily: %s.\n%s root %s --state %s %s%s%s >>%s/log/%s 2>&1\n", jobs[j].why,
                       jobs[j].when, self, state_dir, jobs[j].command, host ? " --host " : "", host ? host : "",
                       state_dir, jobs[j].log);
    char *path = fabric_system_file(CRON_DIR, state_dir);
    int rc = fs_write_file(path, text.data, text.len, 0644, err);
    free(path);
    buf_free(&text);
    free(self);
    return rc;
}
