/* resolver: see resolver.h. */
#include "resolver.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#define DNS_MAX_ANSWER 65536

struct dns_resolver {
    struct __res_state state;
    unsigned char *answer;      /* DNS_MAX_ANSWER bytes: the largest DNS message */
};

struct dns_resolver *dns_resolver_new(void)
{
    struct dns_resolver *r = xcalloc(1, sizeof(*r));
    if (res_ninit(&r->state) != 0) {
        free(r);
        return NULL;
    }
    /* With trust-ad (resolv.conf) glibc sets the AD bit in our queries,
     * which asks the resolver for its validation result (RFC 6840 5.7),
     * and keeps it in the answers; without, it clears it. A truncated
     * answer is asked again over TCP by res_nsend. */
    r->answer = xmalloc(DNS_MAX_ANSWER);
    return r;
}

void dns_resolver_free(struct dns_resolver *r)
{
    if (r == NULL)
        return;
    res_nclose(&r->state);
    free(r->answer);
    free(r);
}

static int mx_order(const void *a, const void *b)
{
    const unsigned *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

int dns_parse_response(const unsigned char *msg, int len, enum dns_type type, struct dns_result *out)
{
    memset(out, 0, sizeof(*out));
    ns_msg handle;
    if (len < HFIXEDSZ || ns_initparse(msg, len, &handle) != 0)
        return -1;
    out->secure = ns_msg_getflag(handle, ns_f_ad) != 0;
    int rcode = ns_msg_getflag(handle, ns_f_rcode);
    if (rcode == ns_r_nxdomain) {
        out->status = DNS_NXDOMAIN;
        return 0;
    }
    if (rcode != ns_r_noerror || ns_msg_getflag(handle, ns_f_tc)) {
        out->status = DNS_TEMPFAIL;
        return 0;
    }
    ns_type want = type == DNS_MX ? ns_t_mx : ns_t_tlsa;
    int count = ns_msg_count(handle, ns_s_an);
    unsigned *order = NULL;     /* MX: preference, index into names */
    if (type == DNS_MX && count > 0) {
        out->names = xcalloc((size_t)count, sizeof(char *));
        order = xcalloc((size_t)count, 2 * sizeof(unsigned));
    }
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&handle, ns_s_an, i, &rr) != 0)
            goto bad;
        if (ns_rr_type(rr) != want || ns_rr_class(rr) != ns_c_in)
            continue;       /* a CNAME on the way, or an RRSIG */
        if (type == DNS_TLSA) {
            out->n++;
            continue;
        }
        if (ns_rr_rdlen(rr) < 3)
            goto bad;
        char host[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(handle), ns_msg_end(handle), ns_rr_rdata(rr) + 2, host, sizeof host) < 0)
            goto bad;
        size_t hl = strlen(host);
        if (hl && host[hl - 1] == '.')
            host[--hl] = '\0';
        if (strcmp(host, ".") == 0)
            host[0] = '\0';
        order[2 * out->n] = ns_get16(ns_rr_rdata(rr));
        order[2 * out->n + 1] = (unsigned)out->n;
        out->names[out->n++] = xstrdup(host);
    }
    if (order && out->n > 1) {
        /* preference order, so the log names the host Postfix tries first */
        qsort(order, out->n, 2 * sizeof(unsigned), mx_order);
        char **sorted = xcalloc(out->n, sizeof(char *));
        for (size_t i = 0; i < out->n; i++)
            sorted[i] = out->names[order[2 * i + 1]];
        free(out->names);
        out->names = sorted;
    }
    free(order);
    out->status = out->n ? DNS_OK : DNS_NODATA;
    return 0;
bad:
    free(order);
    dns_result_free(out);
    return -1;
}

static int query(void *ctx, const char *name, enum dns_type type, struct dns_result *out)
{
    struct dns_resolver *r = ctx;
    unsigned char q[NS_PACKETSZ + 64];
    memset(out, 0, sizeof(*out));
    int qlen = res_nmkquery(&r->state, ns_o_query, name, ns_c_in, type == DNS_MX ? ns_t_mx : ns_t_tlsa, NULL, 0,
                            NULL, q, sizeof q);
    if (qlen < 0)
        return -1;
    /* res_nsend (not res_nquery): the whole answer whatever its rcode, so
     * that a validated NODATA or NXDOMAIN is told from a failure. */
    int len = res_nsend(&r->state, q, qlen, r->answer, DNS_MAX_ANSWER);
    if (len < 0) {
        out->status = DNS_TEMPFAIL;       /* no server answered */
        return 0;
    }
    if (dns_parse_response(r->answer, len, type, out) != 0)
        out->status = DNS_TEMPFAIL;
    return 0;
}

struct resolver dns_resolver_iface(struct dns_resolver *r)
{
    return (struct resolver){.query = query, .ctx = r};
}
