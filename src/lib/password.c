/* password: yescrypt hashing through libxcrypt, reading without echo;
 * see password.h. */
#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "fsutil.h"

#define CRYPT_PREFIX "{CRYPT}"

void password_wipe(buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    buf_free(b);
}

/* crypt_ra's scratch area holds the hash and the password's traces. */
static void free_crypt_data(void *data, int size)
{
    if (data) {
        explicit_bzero(data, (size_t)size);
        free(data);
    }
}

int password_hash(const char *plain, buf *out, buf *err)
{
    if (plain == NULL || plain[0] == '\0') {
        buf_reset(err);
        buf_append_str(err, "refusing to hash an empty password");
        return -1;
    }
    errno = 0;
    char *setting = crypt_gensalt_ra("$y$", 0, NULL, 0);
    if (setting == NULL) {
        buf_reset(err);
        buf_printf(err, "cannot make a yescrypt salt: %s",
                   errno ? strerror(errno) : "libxcrypt refused");
        return -1;
    }
    void *data = NULL;
    int size = 0;
    errno = 0;
    const char *hash = crypt_ra(plain, setting, &data, &size);
    free(setting);
    if (hash == NULL || hash[0] == '*' || strncmp(hash, "$y$", 3) != 0) {
        buf_reset(err);
        buf_printf(err, "yescrypt hashing failed: %s",
                   errno ? strerror(errno) : "libxcrypt returned no hash");
        free_crypt_data(data, size);
        return -1;
    }
    buf_reset(out);
    buf_append_str(out, CRYPT_PREFIX);
    buf_append_str(out, hash);
    free_crypt_data(data, size);
    return 0;
}

int password_verify(const char *plain, const char *stored)
{
    if (plain == NULL || stored == NULL)
        return 0;
    if (strncasecmp(stored, CRYPT_PREFIX, strlen(CRYPT_PREFIX)) == 0)
        stored += strlen(CRYPT_PREFIX);
    if (stored[0] == '\0' || stored[0] == '*')
        return 0;

    void *data = NULL;
    int size = 0;
    const char *hash = crypt_ra(plain, stored, &data, &size);
    int match = 0;
    if (hash != NULL && hash[0] != '*') {
        size_t hash_len = strlen(hash), stored_len = strlen(stored);
        if (hash_len == stored_len) {
            unsigned char diff = 0;             /* constant time compare */
            for (size_t i = 0; i < hash_len; i++)
                diff |= (unsigned char)(hash[i] ^ stored[i]);
            match = diff == 0;
        }
    }
    free_crypt_data(data, size);
    return match;
}

/* Read one line from fp into out (newline and a CR before it stripped).
 * Returns 0, or -1 with err set.  Reads at most PASSWORD_MAX + 1 bytes of
 * a line so a huge input is refused without being stored. */
static int read_line(FILE *fp, const char *source, buf *out, buf *err)
{
    buf_reset(out);
    int c;
    int saw_any = 0;
    while ((c = getc(fp)) != EOF && c != '\n') {
        saw_any = 1;
        if (c == '\0') {
            buf_reset(err);
            buf_printf(err, "the password from %s contains a NUL byte",
                       source);
            goto fail;
        }
        if (out->len >= PASSWORD_MAX) {
            buf_reset(err);
            buf_printf(err, "the password from %s is longer than %d bytes",
                       source, PASSWORD_MAX);
            goto fail;
        }
        buf_append_char(out, (char)c);
    }
    if (c == EOF && ferror(fp)) {
        buf_reset(err);
        buf_printf(err, "cannot read the password from %s: %s", source,
                   strerror(errno));
        goto fail;
    }
    if (c == EOF && !saw_any) {
        buf_reset(err);
        buf_printf(err, "no password on %s (end of input)", source);
        goto fail;
    }
    if (out->len > 0 && out->data[out->len - 1] == '\r') {
        out->data[--out->len] = '\0';
    }
    if (out->len == 0) {
        buf_reset(err);
        buf_printf(err, "the password from %s is empty", source);
        goto fail;
    }
    return 0;

fail:
    if (out->data)
        explicit_bzero(out->data, out->cap);
    buf_reset(out);
    return -1;
}

/* Ask once on the terminal with echo off; the terminal is restored on
 * every path. */
static int ask_terminal(FILE *tty, const char *prompt, buf *out, buf *err)
{
    struct termios saved, quiet;
    int fd = fileno(tty);

    if (tcgetattr(fd, &saved) < 0) {
        buf_reset(err);
        buf_printf(err, "cannot switch off echo on the terminal: %s",
                   strerror(errno));
        return -1;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
        buf_reset(err);
        buf_printf(err, "cannot switch off echo on the terminal: %s",
                   strerror(errno));
        return -1;
    }
    fputs(prompt, tty);
    fflush(tty);
    int rc = read_line(tty, "the terminal", out, err);
    if (tcsetattr(fd, TCSAFLUSH, &saved) < 0 && rc == 0) {
        buf_reset(err);
        buf_printf(err, "cannot restore the terminal: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

int password_read(const char *prompt, int from_stdin, buf *out, buf *err)
{
    if (from_stdin)
        return read_line(stdin, "standard input", out, err);

    FILE *tty = fopen("/dev/tty", "r+e");
    if (tty == NULL) {
        buf_reset(err);
        buf_printf(err, "cannot open the terminal to ask for the password "
                   "(%s); use --password-stdin", strerror(errno));
        return -1;
    }
    setvbuf(tty, NULL, _IONBF, 0);               /* no stdio copy of it */

    buf again = BUF_INIT;
    buf_init(&again);
    int rc = ask_terminal(tty, prompt ? prompt : "Password: ", out, err);
    if (rc == 0)
        rc = ask_terminal(tty, "Retype password: ", &again, err);
    if (rc == 0 && (out->len != again.len
                    || memcmp(out->data, again.data, out->len) != 0)) {
        buf_reset(err);
        buf_append_str(err, "the two passwords differ");
        rc = -1;
    }
    password_wipe(&again);
    if (rc < 0 && out->data) {
        explicit_bzero(out->data, out->cap);
        buf_reset(out);
    }
    fclose(tty);
    return rc;
}

int password_generate(buf *out)
{
    /* 56 symbols, without the look-alikes 0 o O 1 l I.  Bytes at or above
     * the largest multiple of 56 (224) are rejected so every symbol is
     * equally likely. */
    static const char alphabet[] =
        "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const unsigned n_symbols = sizeof alphabet - 1;
    const unsigned limit = 256 - 256 % n_symbols;
    unsigned char pool[64];
    size_t have = 0, used = 0;

    buf_reset(out);
    while (out->len < PASSWORD_GENERATED_LEN) {
        if (used == have) {
            ssize_t n = getrandom(pool, sizeof pool, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                explicit_bzero(pool, sizeof pool);
                return -1;
            }
            have = (size_t)n;
            used = 0;
        }
        unsigned char r = pool[used++];
        if (r < limit)
            buf_append_char(out, alphabet[r % n_symbols]);
    }
    explicit_bzero(pool, sizeof pool);
    return 0;
}

int password_file_ensure(const char *file, int halves, int newline, buf *err)
{
    if (fs_exists(file))
        return 0;
    char *dir = xstrdup(file);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = fs_ensure_dir(dir, NULL, NULL, 0700, err);
    }
    free(dir);
    buf secret = BUF_INIT, half = BUF_INIT;
    for (int i = 0; rc == 0 && i < halves; i++) {
        if (password_generate(&half) != 0) {
            buf_printf(err, "no randomness for %s", file);
            rc = -1;
        } else {
            buf_append(&secret, half.data, half.len);
        }
    }
    if (rc == 0 && newline)
        buf_append_char(&secret, '\n');
    if (rc == 0)
        rc = fs_write_file(file, secret.data, secret.len, 0600, err);
    password_wipe(&secret);
    password_wipe(&half);
    return rc;
}
