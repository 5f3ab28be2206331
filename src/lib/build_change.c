/* build_change: see build_change.h. */
#include "build_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#define DELETED_SUFFIX " (deleted)"
#define OUR_PREFIX "emailng"

char *build_exe_path(const char *exe_link, int *deleted)
{
    size_t n = strlen(exe_link), s = strlen(DELETED_SUFFIX);
    *deleted = n > s && strcmp(exe_link + n - s, DELETED_SUFFIX) == 0;
    return xstrndup(exe_link, *deleted ? n - s : n);
}

char *build_wanted_program(const char *exe_link, const char *self_dir)
{
    int deleted;
    char *path = build_exe_path(exe_link, &deleted);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (self_dir && strncmp(name, OUR_PREFIX, strlen(OUR_PREFIX)) == 0) {
        char *ours = xasprintf("%s/%s", self_dir, name);
        if (access(ours, X_OK) == 0) {
            free(path);
            return ours;
        }
        free(ours);
    }
    return path;
}

int build_changed(const char *exe_link, const struct stat *running, const char *wanted_path,
                  const struct stat *wanted, buf *why)
{
    if (wanted == NULL || (running->st_dev == wanted->st_dev && running->st_ino == wanted->st_ino))
        return 0;
    int deleted;
    char *path = build_exe_path(exe_link, &deleted);
    if (strcmp(path, wanted_path) == 0)
        buf_printf(why, "its program %s was replaced", path);
    else
        buf_printf(why, "it runs %s%s, the build now is %s", path, deleted ? " (since deleted)" : "",
                   wanted_path);
    free(path);
    return 1;
}

/* The folder of the running emailng, or NULL. Caller frees. */
static char *self_dir(void)
{
    char *self = realpath("/proc/self/exe", NULL);
    char *slash = self ? strrchr(self, '/') : NULL;
    if (slash)
        *slash = '\0';
    if (slash == self && self)
        strcpy(self, "/");
    return self;
}

/* The text of a link, however long (no fixed buffer); NULL on error. */
static char *read_link(const char *path)
{
    for (size_t size = 256;; size *= 2) {
        char *text = xmalloc(size);
        ssize_t n = readlink(path, text, size);
        if (n < 0) {
            free(text);
            return NULL;
        }
        if ((size_t)n < size) {
            text[n] = '\0';
            return text;
        }
        free(text);
    }
}

int build_changed_pid(pid_t pid, buf *why)
{
    char *proc = xasprintf("/proc/%ld/exe", (long)pid);
    char *link = read_link(proc);
    struct stat running, wanted;
    int rc = 0;
    if (link && stat(proc, &running) == 0) {
        char *dir = self_dir();
        char *program = build_wanted_program(link, dir);
        rc = build_changed(link, &running, program, stat(program, &wanted) == 0 ? &wanted : NULL, why);
        free(program);
        free(dir);
    }
    free(link);
    free(proc);
    return rc;
}
