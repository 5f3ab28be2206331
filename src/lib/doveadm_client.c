/* doveadm_client: one command on a remote doveadm server over TLS; see
 * doveadm_client.h. */
#include "doveadm_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netaddr.h"

/* Replies bigger than this are refused (a status of every user of a big
 * store is far smaller). */
#define REPLY_MAX (16 * 1024 * 1024)

void doveadm_tab_escape(const char *s, buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '\001': buf_append_str(out, "\0011"); break;
        case '\t': buf_append_str(out, "\001t"); break;
        case '\r': buf_append_str(out, "\001r"); break;
        case '\n': buf_append_str(out, "\001n"); break;
        default: buf_append_char(out, *s);
        }
    }
}

static int tab_unescape(const char *s, size_t len, buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\001') {
            buf_append_char(out, s[i]);
            continue;
        }
        if (++i == len)
            return -1;
        switch (s[i]) {
        case '1': buf_append_char(out, '\001'); break;
        case 't': buf_append_char(out, '\t'); break;
        case 'r': buf_append_char(out, '\r'); break;
        case 'n': buf_append_char(out, '\n'); break;
        case '0': return -1;     /* a NUL inside a value: not a C string */
        default: return -1;
        }
    }
    return 0;
}

void doveadm_reply_free(struct doveadm_reply *reply)
{
    for (size_t i = 0; i < reply->n_fields; i++)
        free(reply->fields[i]);
    free(reply->fields);
    free(reply->code);
    memset(reply, 0, sizeof *reply);
}

int doveadm_reply_parse(const char *data, size_t len, struct doveadm_reply *reply, buf *err)
{
    memset(reply, 0, sizeof *reply);
    const char *end = memchr(data, '\n', len);
    if (end == NULL)
        return 1;
    const char *status = end + 1;
    const char *status_end = memchr(status, '\n', len - (size_t)(status - data));
    if (status_end == NULL)
        return 1;
    if (status_end + 1 != data + len) {
        buf_append_str(err, "the doveadm server sent more than one reply");
        return -1;
    }
    if (memchr(data, '\0', len) != NULL) {
        buf_append_str(err, "the doveadm server's reply contains a NUL byte");
        return -1;
    }
    if (status_end > status && status[0] == '+' && status_end == status + 1) {
        reply->ok = 1;
    } else if (status_end > status && status[0] == '-') {
        reply->code = xstrndup(status + 1, (size_t)(status_end - status - 1));
    } else {
        buf_append_str(err, "the doveadm server's status line is neither \"+\" nor \"-CODE\"");
        return -1;
    }
    /* Values: each one followed by a tab. */
    const char *p = data;
    while (p < end) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL) {
            buf_append_str(err, "the doveadm server's output does not end with a tab");
            doveadm_reply_free(reply);
            return -1;
        }
        buf value = BUF_INIT;
        if (tab_unescape(p, (size_t)(tab - p), &value) != 0) {
            buf_free(&value);
            buf_append_str(err, "the doveadm server's output has a bad escape");
            doveadm_reply_free(reply);
            return -1;
        }
        reply->fields = xrealloc(reply->fields, (reply->n_fields + 1) * sizeof *reply->fields);
        reply->fields[reply->n_fields++] = value.data ? buf_steal(&value) : xstrdup("");
        p = tab + 1;
    }
    return 0;
}

/* ---- the connection ------------------------------------------------------ */

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static void ssl_error(const char *what, buf *err)
{
    unsigned long e = ERR_get_error();
    char text[256];
    if (e) {
        ERR_error_string_n(e, text, sizeof text);
        buf_printf(err, "%s: %s", what, text);
    } else {
        buf_printf(err, "%s: %s", what, errno ? strerror(errno) : "connection closed");
    }
    ERR_clear_error();
}

static void conn_close(struct conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
}

static int conn_open(struct conn *c, const struct doveadm_target *t, buf *err)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    c->fd = -1;
    if (netaddr_sockaddr(t->address, t->port, &sa, &salen) != 0) {
        buf_printf(err, "%s is not a numeric address", t->address);
        return -1;
    }
    c->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    /* Linux applies SO_SNDTIMEO to connect() too. */
    struct timeval tv = {.tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000};
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0
        || setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        buf_printf(err, "setsockopt: %s", strerror(errno));
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, salen) != 0) {
        buf_printf(err, "connect to %s port %d: %s", t->address, t->port,
                   errno == EINPROGRESS ? "timed out" : strerror(errno));
        return -1;
    }
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        ssl_error("TLS", err);
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(c->ctx, t->ca_file, NULL) != 1) {
        ssl_error(t->ca_file, err);
        return -1;
    }
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        ssl_error("TLS", err);
        return -1;
    }
    /* The certificate must name the address we connected to. */
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, t->address) != 1) {
        ssl_error("TLS", err);
        return -1;
    }
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK)
            buf_printf(err, "TLS with %s: certificate not accepted: %s", t->address,
                       X509_verify_cert_error_string(v));
        else
            ssl_error("TLS handshake", err);
        return -1;
    }
    return 0;
}

static int conn_write(struct conn *c, const char *data, size_t len, buf *err)
{
    while (len > 0) {
        int n = SSL_write(c->ssl, data, len > 65536 ? 65536 : (int)len);
        if (n <= 0) {
            ssl_error("writing to the doveadm server", err);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Appends what arrives to in; 0, or -1 on an error or the end of the stream. */
static int conn_read(struct conn *c, buf *in, buf *err)
{
    char chunk[4096];
    errno = 0;
    int n = SSL_read(c->ssl, chunk, sizeof chunk);
    if (n <= 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            buf_append_str(err, "the doveadm server did not answer in time");
        else
            ssl_error("the doveadm server closed the connection", err);
        return -1;
    }
    if (in->len + (size_t)n > REPLY_MAX) {
        buf_append_str(err, "the doveadm server's reply is too long");
        return -1;
    }
    buf_append(in, chunk, (size_t)n);
    return 0;
}

/* One line of the handshake ("+" or "-"). */
static int read_line(struct conn *c, buf *in, buf *line, buf *err)
{
    for (;;) {
        char *nl = in->len ? memchr(in->data, '\n', in->len) : NULL;
        if (nl) {
            buf_reset(line);
            buf_append(line, in->data, (size_t)(nl - in->data));
            size_t rest = in->len - (size_t)(nl + 1 - in->data);
            memmove(in->data, nl + 1, rest);
            in->len = rest;
            in->data[rest] = '\0';
            return 0;
        }
        if (in->len > 1024) {
            buf_append_str(err, "the doveadm server's greeting is too long");
            return -1;
        }
        if (conn_read(c, in, err) != 0)
            return -1;
    }
}

int doveadm_run(const struct doveadm_target *t, const char *user, const char *const argv[],
                struct doveadm_reply *reply, buf *err)
{
    struct conn c = {.fd = -1};
    buf in = BUF_INIT, line = BUF_INIT, out = BUF_INIT;
    memset(reply, 0, sizeof *reply);
    int rc = conn_open(&c, t, err);
    /* Protocol 1.0: no multiplexed log channel; the reply is the output. */
    if (rc == 0)
        rc = conn_write(&c, "VERSION\tdoveadm-server\t1\t0\n", 27, err);
    if (rc == 0)
        rc = read_line(&c, &in, &line, err);
    if (rc == 0 && strcmp(buf_cstr(&line), "-") == 0) {
        /* SASL PLAIN: authzid "", authcid "doveadm", the password. */
        buf plain = BUF_INIT;
        buf_append_char(&plain, '\0');
        buf_append_str(&plain, "doveadm");
        buf_append_char(&plain, '\0');
        buf_append_str(&plain, t->password);
        unsigned char *b64 = xmalloc(4 * ((plain.len + 2) / 3) + 1);
        EVP_EncodeBlock(b64, (const unsigned char *)plain.data, (int)plain.len);
        buf_printf(&out, "PLAIN\t%s\n", (const char *)b64);
        explicit_bzero(plain.data, plain.len);
        explicit_bzero(b64, strlen((const char *)b64));
        buf_free(&plain);
        free(b64);
        rc = conn_write(&c, out.data, out.len, err);
        explicit_bzero(out.data, out.len);
        buf_reset(&out);
        if (rc == 0)
            rc = read_line(&c, &in, &line, err);
        if (rc == 0 && strcmp(buf_cstr(&line), "+") != 0) {
            buf_printf(err, "the doveadm server at %s refused the password", t->address);
            rc = -1;
        }
    } else if (rc == 0 && strcmp(buf_cstr(&line), "+") != 0) {
        buf_append_str(err, "the doveadm server's greeting is neither \"+\" nor \"-\"");
        rc = -1;
    }
    if (rc == 0) {
        buf_append_char(&out, '\t');     /* no flags */
        doveadm_tab_escape(user, &out);
        for (size_t i = 0; argv[i]; i++) {
            buf_append_char(&out, '\t');
            doveadm_tab_escape(argv[i], &out);
        }
        buf_append_char(&out, '\n');
        rc = conn_write(&c, out.data, out.len, err);
    }
    while (rc == 0) {
        int done = in.len ? doveadm_reply_parse(in.data, in.len, reply, err) : 1;
        if (done == 0)
            break;
        if (done < 0 || conn_read(&c, &in, err) != 0)
            rc = -1;
    }
    conn_close(&c);
    buf_free(&in);
    buf_free(&line);
    buf_free(&out);
    return rc;
}
