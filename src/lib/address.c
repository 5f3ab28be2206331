/* address: mail address and size checks for command-line input; see address.h. */
#include "address.h"

#include <limits.h>
#include <string.h>

/* Locale-independent ASCII classes: isalpha() etc. depend on LC_CTYPE. */
static int is_ascii_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
}

static void quote_bytes(buf *out, const char *input, size_t length)
{
    const unsigned char *end = (const unsigned char *)input + length;
    buf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)input; p < end; p++) {
        switch (*p) {
        case '"':  buf_append_str(out, "\\\""); break;
        case '\\': buf_append_str(out, "\\\\"); break;
        case '\n': buf_append_str(out, "\\n"); break;
        case '\r': buf_append_str(out, "\\r"); break;
        case '\t': buf_append_str(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                buf_printf(out, "\\x%02x", *p);
            else
                buf_append_char(out, (char)*p);
        }
    }
    buf_append_char(out, '"');
}

void address_quote(buf *out, const char *input)
{
    quote_bytes(out, input, strlen(input));
}

void address_quote_cut(buf *out, const char *input)
{
    size_t length = strlen(input);
    quote_bytes(out, input, length > ADDRESS_QUOTE_MAX ? ADDRESS_QUOTE_MAX : length);
    if (length > ADDRESS_QUOTE_MAX)     /* never echo hostile input in full */
        buf_printf(out, "... (%zu bytes)", length);
}

/* "character '*'", "a newline (\n)", "byte \xc3" ... for messages. */
static void describe_char(buf *out, unsigned char c)
{
    if (c == ' ')
        buf_append_str(out, "a space");
    else if (c == '\n')
        buf_append_str(out, "a newline (\\n)");
    else if (c == '\r')
        buf_append_str(out, "a carriage return (\\r)");
    else if (c == '\t')
        buf_append_str(out, "a tab (\\t)");
    else if (c < 0x20 || c == 0x7f)
        buf_printf(out, "control character \\x%02x", c);
    else if (c >= 0x80)
        buf_printf(out, "non-ASCII byte \\x%02x", c);
    else
        buf_printf(out, "character '%c'", c);
}

/* Start err as: address "INPUT": */
static void begin_error(buf *err, const char *what, const char *input)
{
    buf_reset(err);
    buf_printf(err, "%s ", what);
    address_quote_cut(err, input);
    buf_append_str(err, ": ");
}

static int check_local_part(const char *input, const char *local, size_t len,
                            buf *err)
{
    if (len == 0) {
        begin_error(err, "address", input);
        buf_append_str(err, "the local part (before '@') is empty");
        return -1;
    }
    if (len > ADDRESS_LOCAL_MAX) {
        begin_error(err, "address", input);
        buf_printf(err, "the local part is %zu characters long (at most %d)",
                   len, ADDRESS_LOCAL_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (is_ascii_letter(c) || is_ascii_digit(c) || c == '_' || c == '+'
            || c == '-')
            continue;
        if (c == '.') {
            const char *where = NULL;
            if (i == 0)
                where = "starts with a dot";
            else if (i == len - 1)
                where = "ends with a dot";
            else if (local[i + 1] == '.')
                where = "contains two dots in a row";
            if (where) {
                begin_error(err, "address", input);
                buf_printf(err, "the local part %s", where);
                return -1;
            }
            continue;
        }
        begin_error(err, "address", input);
        describe_char(err, c);
        buf_append_str(err, " is not allowed in a local part "
                            "(letters, digits and . _ + - only)");
        return -1;
    }
    return 0;
}

/* Domain rules: LDH labels of 1..63, no hyphen at either end of a label,
 * no empty label (so no leading, trailing or double dot), 253 at most. */
static int check_domain(const char *what, const char *input,
                        const char *domain, size_t len, buf *err)
{
    if (len == 0) {
        begin_error(err, what, input);
        buf_append_str(err, "the domain is empty");
        return -1;
    }
    if (len > ADDRESS_DOMAIN_MAX) {
        begin_error(err, what, input);
        buf_printf(err, "the domain is %zu characters long (at most %d)",
                   len, ADDRESS_DOMAIN_MAX);
        return -1;
    }
    size_t label_start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)domain[i] : '.';
        if (c == '.') {
            size_t label_len = i - label_start;
            if (label_len == 0) {
                begin_error(err, what, input);
                buf_append_str(err, label_start == 0
                               ? "the domain starts with a dot"
                               : i == len ? "the domain ends with a dot"
                               : "the domain contains two dots in a row");
                return -1;
            }
            if (label_len > ADDRESS_LABEL_MAX) {
                begin_error(err, what, input);
                buf_printf(err, "a domain label is %zu characters long "
                           "(at most %d)", label_len, ADDRESS_LABEL_MAX);
                return -1;
            }
            if (domain[label_start] == '-' || domain[i - 1] == '-') {
                begin_error(err, what, input);
                buf_printf(err, "the domain label \"%.*s\" starts or ends "
                           "with a hyphen", (int)label_len,
                           domain + label_start);
                return -1;
            }
            label_start = i + 1;
            continue;
        }
        if (is_ascii_letter(c) || is_ascii_digit(c) || c == '-')
            continue;
        begin_error(err, what, input);
        describe_char(err, c);
        buf_append_str(err, " is not allowed in a domain "
                            "(letters, digits, '-' and '.' only)");
        return -1;
    }
    return 0;
}

static void append_lower(buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf_append_char(out, ascii_lower((unsigned char)s[i]));
}

int domain_normalize(const char *input, buf *out, buf *err)
{
    if (input == NULL)
        input = "";
    if (check_domain("domain", input, input, strlen(input), err) < 0)
        return -1;
    buf_reset(out);
    append_lower(out, input, strlen(input));
    return 0;
}

int address_normalize(const char *input, const char *default_domain,
                      buf *out, buf *err)
{
    if (input == NULL || input[0] == '\0') {
        buf_reset(err);
        buf_append_str(err, "the address is empty");
        return -1;
    }
    const char *at = strchr(input, '@');
    const char *local = input;
    size_t local_len = at ? (size_t)(at - input) : strlen(input);
    const char *domain;
    size_t domain_len;

    if (at) {
        if (strchr(at + 1, '@') != NULL) {
            begin_error(err, "address", input);
            buf_append_str(err, "it contains more than one '@'");
            return -1;
        }
        domain = at + 1;
        domain_len = strlen(domain);
    } else {
        if (default_domain == NULL || default_domain[0] == '\0') {
            begin_error(err, "address", input);
            buf_append_str(err, "no domain given and no default domain "
                                "configured");
            return -1;
        }
        domain = default_domain;
        domain_len = strlen(default_domain);
    }

    if (check_local_part(input, local, local_len, err) < 0)
        return -1;
    if (at) {
        if (check_domain("address", input, domain, domain_len, err) < 0)
            return -1;
    } else if (check_domain("default domain", domain, domain, domain_len,
                            err) < 0) {
        return -1;
    }
    if (local_len + 1 + domain_len > ADDRESS_MAX) {
        begin_error(err, "address", input);
        buf_printf(err, "the address is %zu characters long (at most %d)",
                   local_len + 1 + domain_len, ADDRESS_MAX);
        return -1;
    }

    buf_reset(out);
    append_lower(out, local, local_len);
    buf_append_char(out, '@');
    append_lower(out, domain, domain_len);
    return 0;
}

int size_parse(const char *s, unsigned long long *bytes, buf *err)
{
    const char *p = s ? s : "";
    unsigned long long value = 0;

    if (!is_ascii_digit((unsigned char)*p)) {
        buf_reset(err);
        buf_append_str(err, "size ");
        address_quote_cut(err, p);
        buf_append_str(err, ": expected a number of bytes, optionally "
                            "followed by K, M, G or T (e.g. 500M)");
        return -1;
    }
    for (; is_ascii_digit((unsigned char)*p); p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (ULLONG_MAX - digit) / 10)
            goto too_large;
        value = value * 10 + digit;
    }

    unsigned shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    case 't': case 'T': shift = 40; p++; break;
    default: break;
    }
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p != '\0') {
        buf_reset(err);
        buf_append_str(err, "size ");
        address_quote_cut(err, s);
        buf_append_str(err, ": unexpected ");
        describe_char(err, (unsigned char)*p);
        buf_append_str(err, " (use a number with an optional K, M, G or T, "
                            "e.g. 500M)");
        return -1;
    }
    if (shift && value > (ULLONG_MAX >> shift))
        goto too_large;
    *bytes = value << shift;
    return 0;

too_large:
    buf_reset(err);
    buf_append_str(err, "size ");
    address_quote_cut(err, s);
    buf_append_str(err, ": too large");
    return -1;
}

void size_format(unsigned long long bytes, buf *out)
{
    static const char suffixes[] = "KMGT";
    int unit = -1;

    while (bytes != 0 && unit < 3 && bytes % 1024 == 0) {
        bytes /= 1024;
        unit++;
    }
    if (unit < 0)
        buf_printf(out, "%llu", bytes);
    else
        buf_printf(out, "%llu%c", bytes, suffixes[unit]);
}

int quota_size_check(unsigned long long bytes, buf *err)
{
    if (bytes >= QUOTA_MIN_BYTES && bytes <= QUOTA_MAX_BYTES)
        return 0;
    buf_reset(err);
    buf_append_str(err, "a quota of ");
    size_format(bytes, err);
    buf_printf(err, " is %s; expected from 1M to 1024T", bytes < QUOTA_MIN_BYTES ? "too small" : "too large");
    return -1;
}
