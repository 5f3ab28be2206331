/* request: the decision on an autodiscover POST body; see request.h. */
#include "request.h"

#include <expat.h>
#include <string.h>
#include <strings.h>

#include "address.h"

/* Expat joins a namespace and a local name with this byte: it is no name
 * character, so REQUEST_NS|Name can only come from that namespace. */
#define NS_SEP '|'
#define IN_REQUEST_NS(local) AUTODISCOVER_REQUEST_NS "|" local

/* The two texts of the request we read; anything else in it is ignored. */
enum field { FIELD_NONE = -1, FIELD_ADDRESS, FIELD_SCHEMA, N_FIELDS };

static const char *const field_names[N_FIELDS] = {
    [FIELD_ADDRESS] = IN_REQUEST_NS("EMailAddress"),
    [FIELD_SCHEMA] = IN_REQUEST_NS("AcceptableResponseSchema"),
};

struct parse {
    XML_Parser parser;
    enum autodiscover_verdict refusal;   /* AUTODISCOVER_SETTINGS: none yet */
    int depth;                           /* of the element being read; 0 outside the root */
    int n_requests;                      /* Request elements under the root */
    int in_request;                      /* 1 while inside the (one) Request */
    enum field field;                    /* the text being read, or FIELD_NONE */
    int seen[N_FIELDS];
    buf text[N_FIELDS];
};

/* Stops the parse with a verdict (the first one stands). */
static void refuse(struct parse *p, enum autodiscover_verdict v)
{
    if (p->refusal == AUTODISCOVER_SETTINGS)
        p->refusal = v;
    XML_StopParser(p->parser, XML_FALSE);
}

/* Any DTD, even an empty one: refused before its content is read. */
static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    refuse(data, AUTODISCOVER_DTD);
}

/* Cannot come without a DTD; refused all the same (fail closed). */
static void XMLCALL on_entity_decl(void *data, const XML_Char *name, int is_parameter, const XML_Char *value,
                                   int value_length, const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid, const XML_Char *notation)
{
    (void)name;
    (void)is_parameter;
    (void)value;
    (void)value_length;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    refuse(data, AUTODISCOVER_DTD);
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attributes)
{
    struct parse *p = data;
    (void)attributes;
    p->depth++;
    if (p->field != FIELD_NONE) {                     /* markup inside a text we read */
        refuse(p, AUTODISCOVER_NOT_REQUEST);
        return;
    }
    if (p->depth == 1 && strcmp(name, IN_REQUEST_NS("Autodiscover")) != 0) {
        refuse(p, AUTODISCOVER_NOT_REQUEST);
        return;
    }
    if (p->depth == 2 && strcmp(name, IN_REQUEST_NS("Request")) == 0) {
        if (++p->n_requests > 1) {
            refuse(p, AUTODISCOVER_NOT_REQUEST);
            return;
        }
        p->in_request = 1;
    }
    if (p->depth != 3 || !p->in_request)
        return;
    for (int f = 0; f < N_FIELDS; f++)
        if (strcmp(name, field_names[f]) == 0) {
            if (p->seen[f]++) {                       /* two addresses: which one? neither */
                refuse(p, AUTODISCOVER_NOT_REQUEST);
                return;
            }
            p->field = (enum field)f;
        }
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
    struct parse *p = data;
    (void)name;
    if (p->depth == 3)
        p->field = FIELD_NONE;
    else if (p->depth == 2)
        p->in_request = 0;
    p->depth--;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
    struct parse *p = data;
    if (p->field == FIELD_NONE)
        return;
    if (p->text[p->field].len + (size_t)len > AUTODISCOVER_FIELD_MAX) {
        refuse(p, p->field == FIELD_ADDRESS ? AUTODISCOVER_BAD_ADDRESS : AUTODISCOVER_OTHER_SCHEMA);
        return;
    }
    buf_append(&p->text[p->field], s, (size_t)len);
}

/* The text without the white space XML allows around it. */
static const char *trimmed(buf *b)
{
    while (b->len > 0 && strchr(" \t\r\n", b->data[b->len - 1]))
        b->data[--b->len] = '\0';
    const char *s = buf_cstr(b);
    return s + strspn(s, " \t\r\n");
}

/* The parsed fields against what we serve. */
static enum autodiscover_verdict judge(struct parse *p, const char *const *domains, size_t n_domains, buf *address)
{
    if (p->n_requests != 1 || !p->seen[FIELD_SCHEMA])
        return AUTODISCOVER_NOT_REQUEST;
    if (strcmp(trimmed(&p->text[FIELD_SCHEMA]), AUTODISCOVER_RESPONSE_SCHEMA) != 0)
        return AUTODISCOVER_OTHER_SCHEMA;
    const char *given = trimmed(&p->text[FIELD_ADDRESS]);
    if (!p->seen[FIELD_ADDRESS] || *given == '\0')
        return AUTODISCOVER_NO_ADDRESS;
    /* A NUL inside the text (a character reference cannot make one, but
     * the length is what expat gave): not an address. */
    if (strlen(given) != (size_t)(p->text[FIELD_ADDRESS].data + p->text[FIELD_ADDRESS].len - given))
        return AUTODISCOVER_BAD_ADDRESS;
    buf err = BUF_INIT;
    int rc = address_normalize(given, NULL, address, &err);
    buf_free(&err);
    if (rc != 0) {
        buf_reset(address);
        return AUTODISCOVER_BAD_ADDRESS;
    }
    const char *domain = strchr(buf_cstr(address), '@') + 1;     /* normalised: exactly one '@' */
    for (size_t i = 0; i < n_domains; i++)
        if (strcasecmp(domain, domains[i]) == 0)
            return AUTODISCOVER_SETTINGS;
    return AUTODISCOVER_OTHER_DOMAIN;
}

enum autodiscover_verdict autodiscover_request_check(const char *body, size_t len, const char *const *domains,
                                                     size_t n_domains, buf *address)
{
    buf_reset(address);
    if (len > AUTODISCOVER_BODY_MAX)
        return AUTODISCOVER_TOO_LARGE;
    struct parse p = {.refusal = AUTODISCOVER_SETTINGS, .field = FIELD_NONE};
    for (int f = 0; f < N_FIELDS; f++)
        buf_init(&p.text[f]);
    p.parser = XML_ParserCreateNS(NULL, NS_SEP);
    if (p.parser == NULL)
        return AUTODISCOVER_NOT_XML;       /* out of memory: refused, never answered with settings */
    XML_SetUserData(p.parser, &p);
    XML_SetStartDoctypeDeclHandler(p.parser, on_doctype);
    XML_SetEntityDeclHandler(p.parser, on_entity_decl);
    XML_SetElementHandler(p.parser, on_start, on_end);
    XML_SetCharacterDataHandler(p.parser, on_text);
    /* Never read a parameter entity or an external subset (the default;
     * said here so that it stays so). */
    XML_SetParamEntityParsing(p.parser, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status status = XML_Parse(p.parser, body, (int)len, XML_TRUE);
    enum autodiscover_verdict v;
    if (p.refusal != AUTODISCOVER_SETTINGS)
        v = p.refusal;
    else if (status != XML_STATUS_OK)
        v = AUTODISCOVER_NOT_XML;
    else
        v = judge(&p, domains, n_domains, address);
    if (v != AUTODISCOVER_SETTINGS && v != AUTODISCOVER_OTHER_DOMAIN)
        buf_reset(address);
    XML_ParserFree(p.parser);
    for (int f = 0; f < N_FIELDS; f++)
        buf_free(&p.text[f]);
    return v;
}

/* ---- the answers --------------------------------------------------------- */

/* The POX error form (an Exchange server answers the same way): a code
 * Outlook knows and a fixed message. */
#define POX_ERROR(code, message)                                                                         \
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"                                                       \
    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n" \
    "  <Response>\n"                                                                                     \
    "    <Error>\n"                                                                                      \
    "      <ErrorCode>" code "</ErrorCode>\n"                                                           \
    "      <Message>" message "</Message>\n"                                                            \
    "      <DebugData />\n"                                                                              \
    "    </Error>\n"                                                                                     \
    "  </Response>\n"                                                                                    \
    "</Autodiscover>\n"

#define INVALID_REQUEST POX_ERROR("600", "Invalid Request")

static const struct {
    const char *name;
    int status;
    const char *body;
} answers[AUTODISCOVER_N_VERDICTS] = {
    [AUTODISCOVER_SETTINGS] = {"settings", 200, NULL},
    [AUTODISCOVER_TOO_LARGE] = {"too-large", 413, INVALID_REQUEST},
    [AUTODISCOVER_NOT_XML] = {"not-xml", 400, INVALID_REQUEST},
    [AUTODISCOVER_DTD] = {"dtd", 400, INVALID_REQUEST},
    [AUTODISCOVER_NOT_REQUEST] = {"not-a-request", 400, INVALID_REQUEST},
    [AUTODISCOVER_NO_ADDRESS] = {"no-address", 400, INVALID_REQUEST},
    [AUTODISCOVER_BAD_ADDRESS] = {"bad-address", 400, INVALID_REQUEST},
    [AUTODISCOVER_OTHER_DOMAIN] = {"other-domain", 404, POX_ERROR("500", "The e-mail address cannot be found.")},
    [AUTODISCOVER_OTHER_SCHEMA] = {"other-schema", 400, POX_ERROR("601", "Provider is not available")},
    [AUTODISCOVER_BAD_METHOD] = {"bad-method", 405, INVALID_REQUEST},
};

const char *autodiscover_verdict_name(enum autodiscover_verdict v)
{
    return (unsigned)v < AUTODISCOVER_N_VERDICTS ? answers[v].name : "unknown";
}

int autodiscover_verdict_status(enum autodiscover_verdict v)
{
    return (unsigned)v < AUTODISCOVER_N_VERDICTS ? answers[v].status : 500;
}

const char *autodiscover_error_body(enum autodiscover_verdict v)
{
    return (unsigned)v < AUTODISCOVER_N_VERDICTS && answers[v].body ? answers[v].body : INVALID_REQUEST;
}
