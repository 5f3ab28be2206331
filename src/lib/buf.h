/* buf: a growable, always NUL-terminated byte string.
 * Every piece of external input is held in one of these; no fixed buffers.
 * Allocation failure aborts (a mail tool cannot continue half-built). */
#ifndef EMAILNG_BUF_H
#define EMAILNG_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;     /* always NUL-terminated once initialised */
    size_t len;     /* bytes used, excluding the NUL */
    size_t cap;     /* bytes allocated */
} buf;

#define BUF_INIT {NULL, 0, 0}

void buf_init(buf *b);
void buf_free(buf *b);
void buf_reset(buf *b);                          /* len = 0, keeps memory */
void buf_append(buf *b, const void *data, size_t len);
void buf_append_str(buf *b, const char *s);
void buf_append_char(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf *b, const char *fmt, va_list ap);
const char *buf_cstr(buf *b);                    /* "" for an empty buf */
char *buf_steal(buf *b);                         /* caller frees; b is reset */

/* Helpers used everywhere. xstrdup/xmalloc abort on allocation failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
