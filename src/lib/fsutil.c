/* fsutil: see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <ftw.h>
#include <unistd.h>

int fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_read_file(const char *path, size_t max, buf *out, buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        buf_printf(err, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_printf(err, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        buf_append(out, chunk, (size_t)n);
        if (out->len > max) {
            buf_printf(err, "%s is larger than %zu bytes", path, max);
            close(fd);
            return -1;
        }
    }
    close(fd);
    if (memchr(buf_cstr(out), '\0', out->len) != NULL) {
        buf_printf(err, "%s contains a NUL byte; expected a text file", path);
        return -1;
    }
    return 0;
}

int fs_read_secret(const char *path, size_t max, buf *out, buf *err)
{
    int rc = fs_read_file(path, max, out, err);
    /* the line's end, LF or CRLF (a file edited elsewhere), is not the secret */
    while (rc == 0 && out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
        out->data[--out->len] = '\0';
    if (rc == 0 && out->len == 0) {
        buf_printf(err, "%s: the file is empty; expected the secret on one line", path);
        rc = -1;
    } else if (rc == 0 && strpbrk(buf_cstr(out), "\r\n")) {
        buf_printf(err, "%s: the secret must be one line", path);
        rc = -1;
    }
    if (rc != 0 && out->data) {
        /* nothing of a refused secret stays in memory */
        explicit_bzero(out->data, out->cap);
        buf_reset(out);
    }
    return rc;
}

/* uid/gid of user and group names as fs_ensure_dir and fs_ensure_file
 * take them: NULL user = root, NULL group = the user's group. */
static int owner_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, buf *err)
{
    *uid = 0;
    *gid = 0;
    if (user) {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL) {
            buf_printf(err, "the system user \"%s\" does not exist; run scripts/install-deps.sh first", user);
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (group) {
        struct group *gr = getgrnam(group);
        if (gr == NULL) {
            buf_printf(err, "the system group \"%s\" does not exist; run scripts/install-deps.sh first", group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, buf *err)
{
    return fs_write_file_group(path, data, len, mode, NULL, err);
}

int fs_write_file_group(const char *path, const void *data, size_t len, mode_t mode, const char *group,
                        buf *err)
{
    uid_t uid = 0;
    gid_t gid = 0;
    if (group && owner_ids(NULL, group, &uid, &gid, err) != 0)
        return -1;
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        buf_printf(err, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_printf(err, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    if ((group && fchown(fd, uid, gid) != 0) || fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        buf_printf(err, "cannot finish %s: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        buf_printf(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int fs_write_pid_file(const char *path, buf *err)
{
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    return fs_write_file(path, pid, (size_t)n, 0644, err);
}

int fs_mkdirs(const char *path, mode_t mode, buf *err)
{
    char *copy = xstrdup(path);
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            /* Parents are traversable by the daemons' users; the leaf gets `mode`. */
            if (mkdir(copy, saved == '\0' ? mode : 0755) != 0 && errno != EEXIST) {
                buf_printf(err, "cannot create folder %s: %s", copy, strerror(errno));
                free(copy);
                return -1;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        buf_printf(err, "%s exists and is not a folder", path);
        return -1;
    }
    return 0;
}

int fs_ensure_dir(const char *path, const char *user, const char *group, mode_t mode, buf *err)
{
    if (fs_mkdirs(path, mode, err) != 0)
        return -1;
    uid_t uid;
    gid_t gid;
    if (owner_ids(user, group, &uid, &gid, err) != 0)
        return -1;
    if (chown(path, uid, gid) != 0 || chmod(path, mode) != 0) {
        buf_printf(err, "cannot set owner/mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int fs_ensure_file(const char *path, const char *user, const char *group, mode_t mode, buf *err)
{
    uid_t uid;
    gid_t gid;
    if (owner_ids(user, group, &uid, &gid, err) != 0)
        return -1;
    /* O_NOFOLLOW: the folder may be writable by a daemon user; never chown
     * whatever a symlink points at. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        buf_printf(err, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0) {
        buf_printf(err, "cannot set owner/mode of %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        buf_printf(err, "cannot close %s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int fs_remove_tree(const char *path, buf *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        buf_printf(err, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int same_file(const char *a, const char *b)
{
    buf x = BUF_INIT, y = BUF_INIT, err = BUF_INIT;
    int same = fs_read_file(a, 64 * 1024 * 1024, &x, &err) == 0 &&
               fs_read_file(b, 64 * 1024 * 1024, &y, &err) == 0 &&
               x.len == y.len && memcmp(buf_cstr(&x), buf_cstr(&y), x.len) == 0;
    buf_free(&x);
    buf_free(&y);
    buf_free(&err);
    return same;
}

/* Every entry of a exists in b with the same content (one direction). */
static int tree_covered(const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) != 0 || lstat(b, &sb) != 0)
        return 0;
    if (S_ISDIR(sa.st_mode) != S_ISDIR(sb.st_mode))
        return 0;
    if (!S_ISDIR(sa.st_mode))
        return (sa.st_mode & 07777) == (sb.st_mode & 07777) && same_file(a, b);
    DIR *d = opendir(a);
    if (d == NULL)
        return 0;
    int same = 1;
    struct dirent *de;
    while (same && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *x = xasprintf("%s/%s", a, de->d_name);
        char *y = xasprintf("%s/%s", b, de->d_name);
        same = tree_covered(x, y);
        free(x);
        free(y);
    }
    closedir(d);
    return same;
}

int fs_same_tree(const char *a, const char *b)
{
    return tree_covered(a, b) && tree_covered(b, a);
}

int fs_copy_file(const char *from, const char *to, mode_t mode, buf *err)
{
    buf data = BUF_INIT;
    int rc = fs_read_file(from, 16 * 1024 * 1024, &data, err);
    if (rc == 0)
        rc = fs_write_file(to, buf_cstr(&data), data.len, mode, err);
    buf_free(&data);
    return rc;
}

int fs_percent_used(unsigned long long blocks, unsigned long long free_blocks, unsigned long long available)
{
    unsigned long long used = blocks > free_blocks ? blocks - free_blocks : 0;
    unsigned long long usable = used + available;   /* root's reserve is not usable */
    if (usable == 0)
        return 0;
    return (int)((used * 100 + usable - 1) / usable);
}

int fs_used_percent(const char *path, int *percent, unsigned long long *device, buf *err)
{
    struct statvfs st;
    if (statvfs(path, &st) != 0) {
        buf_printf(err, "cannot read the file system of %s: %s", path, strerror(errno));
        return -1;
    }
    *percent = fs_percent_used(st.f_blocks, st.f_bfree, st.f_bavail);
    *device = st.f_fsid;
    return 0;
}
