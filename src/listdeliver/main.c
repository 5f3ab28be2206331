/* emailng-list-deliver: Postfix's pipe(8) command for a mailing list
 * (U4; docs/admin-manual.md "Mailing lists"), run once per message and
 * list (emailng-list_destination_recipient_limit = 1) as user
 * emailng-list, group postdrop:
 *
 *   emailng-list-deliver --port PORT RECIPIENT  < message
 *
 * It adds the list's headers (list_message.h) and hands the message back
 * to Postfix over SMTP on 127.0.0.1:PORT, the lists' reinjection smtpd
 * (master.cf; the loopback guard lets only root and emailng-list
 * connect: loopback_guard.h), with the envelope sender
 * LIST+owner and the one recipient LIST+members, which only that
 * service's cleanup expands into the members. So every member's copy
 * carries the list's bounce address, never the poster's.
 *
 * Refused (the text goes into Postfix's bounce, to the envelope sender):
 *   - a message that already has this list's List-Id (it came back
 *     through a member that is a list or forwards to one): 5.4.6
 *   - LIST+members arriving here (an empty list: nothing to expand): 5.1.1
 * Exit status per sysexits.h, as pipe(8) reads it: 0 delivered, 75
 * try again (the socket or Postfix said 4xx), 65/67/69 bounce. pipe(8)'s
 * "." flag has already doubled leading dots; lines go out with CRLF. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "list_message.h"

#define SMTP_TIMEOUT_SECONDS 300

struct smtp {
    FILE *in;
    FILE *out;
    buf reply;          /* the last reply, all lines */
};

/* Reads one (multi-line) reply; returns its code, or -1. */
static int smtp_read(struct smtp *s)
{
    char *line = NULL;
    size_t cap = 0;
    int code = -1;
    buf_reset(&s->reply);
    for (;;) {
        ssize_t n = getline(&line, &cap, s->in);
        if (n < 4) {
            code = -1;
            break;
        }
        buf_append(&s->reply, line, (size_t)n);
        code = atoi(line);
        if (line[3] != '-')
            break;
    }
    free(line);
    return code;
}

static int smtp_command(struct smtp *s, const char *fmt, const char *arg)
{
    fprintf(s->out, fmt, arg);
    fputs("\r\n", s->out);
    if (fflush(s->out) != 0)
        return -1;
    return smtp_read(s);
}

/* Exit status for a failed step: 4xx or no answer try again, 5xx bounce. */
static int fail(const struct smtp *s, int code, const char *step)
{
    const char *reply = s && s->reply.len ? s->reply.data : "no answer\n";
    printf("%s %s: %s", code >= 500 ? "5.3.0" : "4.3.0", step, reply);
    return code >= 500 ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

static int connect_port(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {SMTP_TIMEOUT_SECONDS, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0
        || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0
        || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Writes a line of the message with CRLF (a CR before the LF is kept). */
static void put_line(FILE *out, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    fwrite(line, 1, len, out);
    fputs("\r\n", out);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    char *end = NULL;
    long port = argc == 4 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 4 || strcmp(argv[1], "--port") != 0 || end == argv[2] || *end != '\0' || port < 1 || port > 65535) {
        printf("4.3.5 usage: emailng-list-deliver --port PORT RECIPIENT\n");
        return EX_TEMPFAIL;     /* a configuration error: keep the mail */
    }
    struct list_address a;
    list_address_init(&a);
    buf err = BUF_INIT;
    if (list_address_parse(argv[3], &a, &err) != 0) {
        printf("5.1.3 %s: %s\n", argv[3], buf_cstr(&err));
        return EX_DATAERR;
    }
    if (strcmp(buf_cstr(&a.extension), "members") == 0 || strcmp(buf_cstr(&a.extension), "owner") == 0) {
        printf("5.1.1 <%s>: list %s has no %s to deliver to\n", argv[3], buf_cstr(&a.list),
               strcmp(buf_cstr(&a.extension), "owner") == 0 ? "owner" : "member");
        return EX_NOUSER;
    }

    /* The header section, to look for our List-Id before anything is sent. */
    buf headers = BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int body_follows = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        buf_append(&headers, line, (size_t)n);
        if ((n == 1 && line[0] == '\n') || (n == 2 && line[0] == '\r' && line[1] == '\n')) {
            body_follows = 1;
            break;
        }
    }
    if (ferror(stdin)) {
        printf("4.3.0 cannot read the message: %s\n", strerror(errno));
        return EX_TEMPFAIL;
    }
    if (list_message_has_list_id(buf_cstr(&headers), headers.len, buf_cstr(&a.id))) {
        printf("5.4.6 mail loop: this message has been through list %s already (List-Id <%s>)\n",
               buf_cstr(&a.list), buf_cstr(&a.id));
        return EX_DATAERR;
    }

    int fd = connect_port((int)port);
    if (fd < 0) {
        printf("4.3.0 cannot reach 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return EX_TEMPFAIL;
    }
    struct smtp s = {fdopen(fd, "r"), NULL, BUF_INIT};
    int fd2 = dup(fd);
    s.out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
    if (s.in == NULL || s.out == NULL) {
        printf("4.3.0 cannot set up the connection: %s\n", strerror(errno));
        return EX_TEMPFAIL;
    }
    int code = smtp_read(&s);
    if (code != 220)
        return fail(&s, code, "greeting");
    if ((code = smtp_command(&s, "EHLO %s", "emailng-list-deliver")) != 250)
        return fail(&s, code, "EHLO");
    if ((code = smtp_command(&s, "MAIL FROM:<%s> BODY=8BITMIME", buf_cstr(&a.owner))) != 250)
        return fail(&s, code, "MAIL FROM");
    if ((code = smtp_command(&s, "RCPT TO:<%s>", buf_cstr(&a.members))) != 250)
        return fail(&s, code, "RCPT TO");
    if ((code = smtp_command(&s, "%s", "DATA")) != 354)
        return fail(&s, code, "DATA");

    buf added = BUF_INIT;
    list_message_headers(&a, &added);
    fwrite(added.data, 1, added.len, s.out);
    /* the header section as read, then the rest as it comes */
    const char *p = buf_cstr(&headers), *stop_at = p + headers.len;
    while (p < stop_at) {
        const char *nl = memchr(p, '\n', (size_t)(stop_at - p));
        const char *stop = nl ? nl + 1 : stop_at;
        put_line(s.out, p, (size_t)(stop - p));
        p = stop;
    }
    while (body_follows && (n = getline(&line, &cap, stdin)) > 0)
        put_line(s.out, line, (size_t)n);
    if (ferror(stdin)) {
        printf("4.3.0 cannot read the message: %s\n", strerror(errno));
        return EX_TEMPFAIL;
    }
    fputs(".\r\n", s.out);
    if (fflush(s.out) != 0) {
        printf("4.3.0 cannot send the message: %s\n", strerror(errno));
        return EX_TEMPFAIL;
    }
    code = smtp_read(&s);
    if (code != 250)
        return fail(&s, code, "end of DATA");
    (void)smtp_command(&s, "%s", "QUIT");
    fclose(s.in);
    fclose(s.out);
    free(line);
    buf_free(&added);
    buf_free(&headers);
    buf_free(&err);
    buf_free(&s.reply);
    list_address_free(&a);
    return EX_OK;
}
