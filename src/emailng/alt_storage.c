/* alt_storage: the stores' ALT folders, their mark and
 * `emailng storage altmove`; see alt_storage.h. */
#include "alt_storage.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fabric.h"
#include "fsutil.h"
#include "site_storage.h"

#define ALT_MARK ".emailng-alt"

static char *record_path(const char *state_dir, const struct site_host *host)
{
    return xasprintf("%s/data/%s/alt-storage", state_dir, host->name);
}

/* 1 if DATA/alt-storage names dir: this folder was prepared once. */
static int prepared_before(const char *state_dir, const struct site_host *host, const char *dir)
{
    char *record = record_path(state_dir, host);
    buf text = BUF_INIT, err = BUF_INIT;
    int yes = fs_read_file(record, 4096, &text, &err) == 0 && text.len > 0 &&
              strncmp(buf_cstr(&text), dir, strlen(dir)) == 0 && text.data[strlen(dir)] == '\n';
    buf_free(&text);
    buf_free(&err);
    free(record);
    return yes;
}

enum alt_state alt_storage_state(const struct site *site, const struct site_host *host, const char *state_dir)
{
    char *dir = site_storage_alt_dir(site, host);
    if (dir == NULL)
        return ALT_NONE;
    char *mark = xasprintf("%s/%s", dir, ALT_MARK);
    enum alt_state st = fs_exists(mark) ? ALT_OK : prepared_before(state_dir, host, dir) ? ALT_MISSING : ALT_NEW;
    free(mark);
    free(dir);
    return st;
}

void alt_storage_missing_text(const struct site *site, const struct site_host *host, buf *out)
{
    char *dir = site_storage_alt_dir(site, host);
    buf_printf(out, "%s: the ALT storage %s is missing (its mark %s/%s is gone: is the file system at %s "
                    "mounted?); old mail moved there cannot be read until it is back, and `emailng storage "
                    "altmove` moves nothing", host->name, dir ? dir : "?", dir ? dir : "?", ALT_MARK,
               site->storage.alt_path ? site->storage.alt_path : "?");
    free(dir);
}

/* The folder (the mount point itself stays root's; the host's folder in
 * it belongs to the mail uid, like the mail folder), its mark, the record. */
static int alt_storage_make(const struct site *site, const char *dir, const char *record, const char *text,
                            buf *err)
{
    char *mark = xasprintf("%s/%s", dir, ALT_MARK);
    static const char mark_text[] = "EmailNG ALT storage: `emailng up` and `status` look for this file.\n";
    int rc = fs_mkdirs(site->storage.alt_path, 0755, err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, "vmail", "vmail", 0700, err);
    if (rc == 0)
        rc = fs_write_file(mark, mark_text, sizeof mark_text - 1, 0644, err);
    if (rc == 0)
        rc = fs_write_file(record, text, strlen(text), 0644, err);
    free(mark);
    return rc;
}

int alt_storage_prepare(const struct site *site, const struct site_host *host, const char *state_dir,
                        buf *warning, buf *err)
{
    char *dir = site_storage_alt_dir(site, host);
    char *record = record_path(state_dir, host);
    char *text = dir ? xasprintf("%s\n", dir) : NULL;
    int rc = 0;
    switch (alt_storage_state(site, host, state_dir)) {
    case ALT_NONE:
        break;
    case ALT_OK:
        /* Moved here by the administrator (files and mark): remember the
         * new place, so that it is missed when it goes. */
        if (!prepared_before(state_dir, host, dir))
            rc = fs_write_file(record, text, strlen(text), 0644, err);
        break;
    case ALT_MISSING:
        alt_storage_missing_text(site, host, warning);
        break;
    case ALT_NEW:
        rc = alt_storage_make(site, dir, record, text, err);
        break;
    }
    free(text);
    free(record);
    free(dir);
    return rc;
}

/* ---- emailng storage altmove ------------------------------------------- */

static unsigned long long walk_files, walk_bytes;

static int count_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (type == FTW_F && strcmp(path + ftw->base, ALT_MARK) != 0) {
        walk_files++;
        walk_bytes += (unsigned long long)st->st_size;
    }
    return 0;
}

static void alt_usage(const char *dir, unsigned long long *files, unsigned long long *bytes)
{
    walk_files = walk_bytes = 0;
    nftw(dir, count_file, 16, FTW_PHYS);
    *files = walk_files;
    *bytes = walk_bytes;
}

static int altmove_host(const struct site *site, const struct site_host *h, const char *state_dir)
{
    enum alt_state st = alt_storage_state(site, h, state_dir);
    if (st == ALT_MISSING || st == ALT_NEW) {
        buf text = BUF_INIT;
        if (st == ALT_MISSING)
            alt_storage_missing_text(site, h, &text);
        else
            buf_printf(&text, "%s: the ALT storage is not prepared yet: run `emailng up` first", h->name);
        fprintf(stderr, "emailng: storage altmove: %s\n", buf_cstr(&text));
        buf_free(&text);
        return -1;
    }
    char *dir = site_storage_alt_dir(site, h);
    char *conf = xasprintf("%s/etc/%s/dovecot/dovecot.conf", state_dir, h->name);
    char *age = xasprintf("%ud", site->storage.alt_after_days);
    /* BEFORE is the received date (INTERNALDATE): mail migrated from an
     * older server keeps its own, and goes to ALT as the old mail it is. */
    const char *argv[] = {"/usr/bin/doveadm", "-c", conf, "altmove", "-A", "before", age, NULL};
    unsigned long long files0, bytes0, files1, bytes1;
    alt_usage(dir, &files0, &bytes0);
    time_t t0 = time(NULL);
    /* mdbox copies the messages to ALT and drops only its references:
     * purge frees the primary storage, which is what ALT is for. */
    const char *purge_argv[] = {"/usr/bin/doveadm", "-c", conf, "purge", "-A", NULL};
    buf out = BUF_INIT, err = BUF_INIT;
    int status = fabric_run_on_host(state_dir, h->name, argv, &out, &err);
    if (status == 0)
        status = fabric_run_on_host(state_dir, h->name, purge_argv, &out, &err);
    alt_usage(dir, &files1, &bytes1);
    int rc = 0;
    if (status != 0) {
        fprintf(stderr, "emailng: storage altmove: %s: doveadm altmove or purge failed (%s): %s%s\n", h->name,
                status < 0 ? "could not run" : "exit status", buf_cstr(&err), buf_cstr(&out));
        rc = -1;
    } else {
        printf("%s: mail received more than %u days ago moved to %s in %lds: it holds %llu files, %llu bytes "
               "(was %llu files, %llu bytes)\n", h->name, site->storage.alt_after_days, dir, (long)(time(NULL) - t0),
               files1, bytes1, files0, bytes0);
    }
    buf_free(&out);
    buf_free(&err);
    free(age);
    free(conf);
    free(dir);
    return rc;
}

int cmd_storage_run(const struct options *o, int argc, char **argv)
{
    if (argc != 1 || strcmp(argv[0], "altmove") != 0) {
        fprintf(stderr, "emailng: storage: %s; usage: emailng storage altmove [--host STORE]\n",
                argc < 1 ? "which action?" : "unknown action or argument");
        return EXIT_USAGE;
    }
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    if (cli_check_host_option(o, &site) != 0) {
        site_free(&site);
        return EXIT_USAGE;
    }
    int rc = EXIT_DONE, any = 0;
    for (size_t i = 0; i < site.n_hosts; i++) {
        const struct site_host *h = &site.hosts[i];
        if (!cli_host_selected(o, h) || alt_storage_state(&site, h, o->state_dir) == ALT_NONE)
            continue;
        any = 1;
        if (altmove_host(&site, h, o->state_dir) != 0)
            rc = EXIT_FAILED;
    }
    if (!any) {
        fprintf(stderr, "emailng: storage altmove: no store of site %s has ALT storage (storage.alt_path in the "
                        "site file)\n", site.name);
        rc = EXIT_FAILED;
    }
    site_free(&site);
    return rc;
}
