/* request: the autodiscover POST body Outlook sends gets the settings;
 * malformed XML, a DTD (entity bomb, external entity), another domain, a
 * missing or bad address, another response schema and an oversized body
 * each get their own refusal, whose fixed answer holds nothing of the
 * request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "request.h"

static const char *const domains[] = {"example.test", "other.example"};

#define REQUEST_WITH(address_element, schema)                                                      \
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"                                                 \
    "<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\">\n"                                       \
    "  <Request>\n"                                                                                \
    "    " address_element "\n"                                                                    \
    "    <AcceptableResponseSchema>" schema "</AcceptableResponseSchema>\n"                         \
    "  </Request>\n"                                                                               \
    "</Autodiscover>\n"
#define REQUEST(address) REQUEST_WITH("<EMailAddress>" address "</EMailAddress>", AUTODISCOVER_RESPONSE_SCHEMA)

static enum autodiscover_verdict check_str(const char *body, buf *address)
{
    return autodiscover_request_check(body, strlen(body), domains, 2, address);
}

/* The verdict, and that its answer is a fixed 4xx holding no part of the
 * body's distinctive marker. */
static void expect_refused(const char *body, enum autodiscover_verdict want, const char *marker)
{
    buf address = BUF_INIT;
    enum autodiscover_verdict v = check_str(body, &address);
    if (v != want)
        fail_msg("%s: got %s, want %s", body, autodiscover_verdict_name(v), autodiscover_verdict_name(want));
    int status = autodiscover_verdict_status(v);
    assert_true(status >= 400 && status < 500);
    const char *answer = autodiscover_error_body(v);
    assert_non_null(strstr(answer, "<ErrorCode>"));
    if (marker)
        assert_null(strstr(answer, marker));
    if (want != AUTODISCOVER_OTHER_DOMAIN)
        assert_int_equal(address.len, 0);
    buf_free(&address);
}

static void test_well_formed_request_gets_the_settings(void **state)
{
    (void)state;
    buf address = BUF_INIT;
    assert_int_equal(check_str(REQUEST("Alice@Example.TEST"), &address), AUTODISCOVER_SETTINGS);
    assert_string_equal(buf_cstr(&address), "alice@example.test");
    assert_int_equal(autodiscover_verdict_status(AUTODISCOVER_SETTINGS), 200);
    /* Any of the site's domains; white space around the texts; a prefix
     * bound to the namespace; an extra LegacyDN element; a comment. */
    const char *prefixed =
        "<a:Autodiscover xmlns:a=\"" AUTODISCOVER_REQUEST_NS "\"><a:Request><!-- hi -->"
        "<a:LegacyDN>/o=x</a:LegacyDN><a:EMailAddress>\n bob@other.example \n</a:EMailAddress>"
        "<a:AcceptableResponseSchema> " AUTODISCOVER_RESPONSE_SCHEMA " </a:AcceptableResponseSchema>"
        "</a:Request></a:Autodiscover>";
    assert_int_equal(check_str(prefixed, &address), AUTODISCOVER_SETTINGS);
    assert_string_equal(buf_cstr(&address), "bob@other.example");
    buf_free(&address);
}

static void test_entity_bomb_is_refused_unexpanded(void **state)
{
    (void)state;
    expect_refused("<?xml version=\"1.0\"?>\n<!DOCTYPE Autodiscover [\n"
                   " <!ENTITY a \"zqmarker\">\n"
                   " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
                   " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
                   " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
                   " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
                   " <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
                   "]>\n" REQUEST("&f;@example.test"),
                   AUTODISCOVER_DTD, "zqmarker");
}

static void test_any_dtd_is_refused(void **state)
{
    (void)state;
    /* An empty internal subset, an external DTD, a parameter entity. */
    expect_refused("<!DOCTYPE Autodiscover []>" REQUEST("alice@example.test"), AUTODISCOVER_DTD, NULL);
    expect_refused("<!DOCTYPE Autodiscover SYSTEM \"http://evil.example/x.dtd\">" REQUEST("alice@example.test"),
                   AUTODISCOVER_DTD, "evil");
    expect_refused("<!DOCTYPE a [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>" REQUEST("alice@example.test"),
                   AUTODISCOVER_DTD, "passwd");
}

static void test_external_entity_is_refused_unread(void **state)
{
    (void)state;
    expect_refused("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                   REQUEST("&x;"), AUTODISCOVER_DTD, "root:");
    /* Without a DTD the reference is undefined: not well-formed. */
    expect_refused(REQUEST("&x;@example.test"), AUTODISCOVER_NOT_XML, NULL);
}

static void test_malformed_bodies_are_not_xml(void **state)
{
    (void)state;
    expect_refused("<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\"><Request><EMailAddress>zqmarker@",
                   AUTODISCOVER_NOT_XML, "zqmarker");
    expect_refused("zqmarkerzqmarker", AUTODISCOVER_NOT_XML, "zqmarker");
    expect_refused("", AUTODISCOVER_NOT_XML, NULL);
    expect_refused(REQUEST("</EMailAddress><x>zqmarker</x>"), AUTODISCOVER_NOT_XML, "zqmarker");
    expect_refused("<?xml version=\"1.0\" encoding=\"x-zq-unknown\"?><a/>", AUTODISCOVER_NOT_XML, "x-zq");
    /* A NUL byte inside. */
    static const char nul[] = "<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\"><Request><EMailAddress>a\0"
                              "@example.test</EMailAddress></Request></Autodiscover>";
    buf address = BUF_INIT;
    assert_int_equal(autodiscover_request_check(nul, sizeof nul - 1, domains, 2, &address), AUTODISCOVER_NOT_XML);
    buf_free(&address);
}

static void test_address_of_another_domain_is_refused(void **state)
{
    (void)state;
    expect_refused(REQUEST("zqmarker@elsewhere.example"), AUTODISCOVER_OTHER_DOMAIN, "zqmarker");
    /* A subdomain or a suffix of ours is another domain. */
    expect_refused(REQUEST("alice@sub.example.test"), AUTODISCOVER_OTHER_DOMAIN, NULL);
    expect_refused(REQUEST("alice@evilexample.test"), AUTODISCOVER_OTHER_DOMAIN, NULL);
    assert_int_equal(autodiscover_verdict_status(AUTODISCOVER_OTHER_DOMAIN), 404);
}

static void test_missing_or_bad_address_is_refused(void **state)
{
    (void)state;
    expect_refused(REQUEST_WITH("", AUTODISCOVER_RESPONSE_SCHEMA), AUTODISCOVER_NO_ADDRESS, NULL);
    expect_refused(REQUEST("  "), AUTODISCOVER_NO_ADDRESS, NULL);
    expect_refused(REQUEST("zqmarker"), AUTODISCOVER_BAD_ADDRESS, "zqmarker");
    expect_refused(REQUEST("a(b)@example.test"), AUTODISCOVER_BAD_ADDRESS, NULL);
    expect_refused(REQUEST("a@b@example.test"), AUTODISCOVER_BAD_ADDRESS, NULL);
    expect_refused(REQUEST("&lt;script&gt;@example.test"), AUTODISCOVER_BAD_ADDRESS, "script");
    expect_refused(REQUEST("caf\xc3\xa9@example.test"), AUTODISCOVER_BAD_ADDRESS, NULL);
    /* Longer than a field may be. */
    buf body = BUF_INIT;
    buf_append_str(&body, "<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\"><Request><EMailAddress>");
    for (int i = 0; i < AUTODISCOVER_FIELD_MAX; i++)
        buf_append_char(&body, 'a');
    buf_append_str(&body, "@example.test</EMailAddress></Request></Autodiscover>");
    expect_refused(buf_cstr(&body), AUTODISCOVER_BAD_ADDRESS, NULL);
    buf_free(&body);
    /* Two addresses: neither is believed. */
    expect_refused(REQUEST_WITH("<EMailAddress>a@example.test</EMailAddress><EMailAddress>b@example.test"
                                "</EMailAddress>", AUTODISCOVER_RESPONSE_SCHEMA),
                   AUTODISCOVER_NOT_REQUEST, NULL);
}

static void test_other_shapes_and_schemas_are_refused(void **state)
{
    (void)state;
    /* No namespace, another root, markup inside the address, no schema. */
    expect_refused("<Autodiscover><Request><EMailAddress>alice@example.test</EMailAddress>"
                   "<AcceptableResponseSchema>" AUTODISCOVER_RESPONSE_SCHEMA "</AcceptableResponseSchema>"
                   "</Request></Autodiscover>", AUTODISCOVER_NOT_REQUEST, NULL);
    expect_refused("<x xmlns=\"" AUTODISCOVER_REQUEST_NS "\"/>", AUTODISCOVER_NOT_REQUEST, NULL);
    expect_refused(REQUEST("alice@<b>example.test</b>"), AUTODISCOVER_NOT_REQUEST, NULL);
    expect_refused("<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\"><Request><EMailAddress>alice@example.test"
                   "</EMailAddress></Request></Autodiscover>", AUTODISCOVER_NOT_REQUEST, NULL);
    /* The address outside Request does not count. */
    expect_refused("<Autodiscover xmlns=\"" AUTODISCOVER_REQUEST_NS "\"><Request/><Other><EMailAddress>"
                   "alice@example.test</EMailAddress><AcceptableResponseSchema>" AUTODISCOVER_RESPONSE_SCHEMA
                   "</AcceptableResponseSchema></Other></Autodiscover>", AUTODISCOVER_NOT_REQUEST, NULL);
    /* ActiveSync's schema: not what we give. */
    expect_refused(REQUEST_WITH("<EMailAddress>alice@example.test</EMailAddress>",
                                "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"),
                   AUTODISCOVER_OTHER_SCHEMA, "mobilesync");
}

static void test_oversized_body_is_refused_unparsed(void **state)
{
    (void)state;
    size_t len = AUTODISCOVER_BODY_MAX + 1;
    char *body = malloc(len);
    assert_non_null(body);
    memset(body, ' ', len);
    buf address = BUF_INIT;
    assert_int_equal(autodiscover_request_check(body, len, domains, 2, &address), AUTODISCOVER_TOO_LARGE);
    assert_int_equal(autodiscover_verdict_status(AUTODISCOVER_TOO_LARGE), 413);
    /* Exactly the limit is read (white space after the request is XML). */
    const char *req = REQUEST("alice@example.test");
    memcpy(body, req, strlen(req));
    assert_int_equal(autodiscover_request_check(body, len - 1, domains, 2, &address), AUTODISCOVER_SETTINGS);
    buf_free(&address);
    free(body);
}

/* Every prefix of a proper request (what a fuzzer would try first): never
 * the settings but for the whole, never a crash. */
static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    const char *req = REQUEST("alice@example.test");
    buf address = BUF_INIT;
    for (size_t n = 0; n < strlen(req); n++) {
        enum autodiscover_verdict v = autodiscover_request_check(req, n, domains, 2, &address);
        if (n < strlen(req) - 1)     /* the last byte is a newline after the root */
            assert_int_not_equal(v, AUTODISCOVER_SETTINGS);
    }
    buf_free(&address);
}

static void test_every_verdict_has_a_fixed_answer(void **state)
{
    (void)state;
    for (int v = 1; v < AUTODISCOVER_N_VERDICTS; v++) {
        int status = autodiscover_verdict_status((enum autodiscover_verdict)v);
        assert_true(status >= 400 && status < 500);
        assert_non_null(strstr(autodiscover_error_body((enum autodiscover_verdict)v), "</Autodiscover>"));
        assert_string_not_equal(autodiscover_verdict_name((enum autodiscover_verdict)v), "unknown");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_request_gets_the_settings),
        cmocka_unit_test(test_entity_bomb_is_refused_unexpanded),
        cmocka_unit_test(test_any_dtd_is_refused),
        cmocka_unit_test(test_external_entity_is_refused_unread),
        cmocka_unit_test(test_malformed_bodies_are_not_xml),
        cmocka_unit_test(test_address_of_another_domain_is_refused),
        cmocka_unit_test(test_missing_or_bad_address_is_refused),
        cmocka_unit_test(test_other_shapes_and_schemas_are_refused),
        cmocka_unit_test(test_oversized_body_is_refused_unparsed),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_every_verdict_has_a_fixed_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
