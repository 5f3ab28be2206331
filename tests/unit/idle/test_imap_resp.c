/* Unit tests of bench/idle/imap_resp: the IDLE load client's line splitter
 * (CRLF, split reads, the bound on a line) and line classifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "imap_resp.h"

static imap_resp classify(const char *s, const char *tag)
{
    return imap_resp_classify(s, strlen(s), tag);
}

static void test_classify_kinds(void **state)
{
    (void)state;
    assert_int_equal(classify("* OK mail.example.test ready.", "a").kind, IMAP_RESP_UNTAGGED_OK);
    assert_int_equal(classify("* OK", "a").kind, IMAP_RESP_UNTAGGED_OK);
    assert_int_equal(classify("+ idling", "c").kind, IMAP_RESP_CONTINUE);
    assert_int_equal(classify("* BYE Server shutting down.", "c").kind, IMAP_RESP_BYE);
    assert_int_equal(classify("a OK [CAPABILITY IMAP4rev1] Logged in", "a").kind, IMAP_RESP_TAGGED_OK);
    assert_int_equal(classify("a NO [AUTHENTICATIONFAILED] Authentication failed.", "a").kind,
                     IMAP_RESP_TAGGED_FAIL);
    assert_int_equal(classify("b BAD Error in IMAP command", "b").kind, IMAP_RESP_TAGGED_FAIL);
    /* Another tag's result, a word that only starts like OK, untagged others. */
    assert_int_equal(classify("ab OK done", "a").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("a OKAY", "a").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* FLAGS (\\Answered \\Seen)", "b").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* 3 RECENT", "b").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("", "a").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("*", "a").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("a", "a").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("a ", "").kind, IMAP_RESP_OTHER);
}

static void test_classify_exists(void **state)
{
    (void)state;
    imap_resp r = classify("* 42 EXISTS", "c");
    assert_int_equal(r.kind, IMAP_RESP_EXISTS);
    assert_int_equal(r.exists, 42);
    assert_int_equal(classify("* 0 EXISTS", "c").kind, IMAP_RESP_EXISTS);
    assert_int_equal(classify("* EXISTS", "c").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* 4x EXISTS", "c").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* 4 EXISTSX", "c").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* 4 EXIST", "c").kind, IMAP_RESP_OTHER);
    assert_int_equal(classify("* 4 EXPUNGE", "c").kind, IMAP_RESP_OTHER);
    /* A number beyond unsigned long is no EXISTS, not a wrapped one. */
    assert_int_equal(classify("* 999999999999999999999999999999 EXISTS", "c").kind, IMAP_RESP_OTHER);
}

static void test_lines_split_reads(void **state)
{
    (void)state;
    imap_lines l;
    imap_lines_init(&l, 64);
    const char *line;
    size_t len;
    assert_int_equal(imap_lines_next(&l, &line, &len), 0);
    imap_lines_feed(&l, "* OK rea", 8);
    assert_int_equal(imap_lines_next(&l, &line, &len), 0);
    imap_lines_feed(&l, "dy.\r", 4);
    assert_int_equal(imap_lines_next(&l, &line, &len), 0);
    imap_lines_feed(&l, "\na OK x\r\n\r\n+ idl", 16);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 11);
    assert_memory_equal(line, "* OK ready.", 11);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 6);
    assert_memory_equal(line, "a OK x", 6);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);   /* an empty line */
    assert_int_equal(len, 0);
    assert_int_equal(imap_lines_next(&l, &line, &len), 0);
    imap_lines_feed(&l, "ing\r\n", 5);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 8);
    assert_memory_equal(line, "+ idling", 8);
    /* A bare LF is no line end. */
    imap_lines_feed(&l, "x\ny\r\n", 5);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 3);
    imap_lines_free(&l);
}

static void test_lines_bound(void **state)
{
    (void)state;
    imap_lines l;
    imap_lines_init(&l, 8);
    const char *line;
    size_t len;
    imap_lines_feed(&l, "12345678\r\n", 10);           /* exactly the bound */
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 8);
    imap_lines_feed(&l, "12345678\r", 9);              /* the bound and a CR: may still end */
    assert_int_equal(imap_lines_next(&l, &line, &len), 0);
    imap_lines_feed(&l, "\n", 1);
    assert_int_equal(imap_lines_next(&l, &line, &len), 1);
    imap_lines_feed(&l, "123456789\r\n", 11);          /* one over, CRLF present */
    assert_int_equal(imap_lines_next(&l, &line, &len), -1);
    imap_lines_free(&l);

    imap_lines_init(&l, 8);
    imap_lines_feed(&l, "1234567890", 10);             /* one over, no CRLF yet */
    assert_int_equal(imap_lines_next(&l, &line, &len), -1);
    imap_lines_free(&l);
}

/* Every split of a byte stream gives the same lines (what a fuzzer varies). */
static void test_lines_any_split(void **state)
{
    (void)state;
    static const char stream[] = "* OK hi\r\na OK [CAPABILITY X] in\r\n* 0 EXISTS\r\n+ idling\r\n* 1 EXISTS\r\n";
    size_t n = sizeof stream - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        imap_lines l;
        imap_lines_init(&l, 64);
        const char *line;
        size_t len;
        unsigned exists = 0, lines = 0;
        imap_lines_feed(&l, stream, cut);
        for (int pass = 0; pass < 2; pass++) {
            int rc;
            while ((rc = imap_lines_next(&l, &line, &len)) == 1) {
                lines++;
                if (imap_resp_classify(line, len, "c").kind == IMAP_RESP_EXISTS)
                    exists++;
            }
            assert_int_equal(rc, 0);
            if (pass == 0)
                imap_lines_feed(&l, stream + cut, n - cut);
        }
        assert_int_equal(lines, 5);
        assert_int_equal(exists, 2);
        imap_lines_free(&l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_kinds),
        cmocka_unit_test(test_classify_exists),
        cmocka_unit_test(test_lines_split_reads),
        cmocka_unit_test(test_lines_bound),
        cmocka_unit_test(test_lines_any_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
