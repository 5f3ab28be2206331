/* Unit tests for the shared YAML walker (src/lib/yaml_config.c): booleans,
 * sizes, lists, keys given twice, and reports sorted by line (cmocka). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "yaml_config.h"

static yaml_node_t *value_of(ycfg *y, const char *key)
{
    for (yaml_node_pair_t *p = y->root->data.mapping.pairs.start; p < y->root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&y->doc, p->value);
    }
    fail_msg("no key %s", key);
    return NULL;
}

/* One reading of true/false words, in every file. */
static void test_bool_words(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ycfg_bool_word(yes[i]), 1);
        assert_int_equal(ycfg_bool_word(no[i]), 0);
    }
    assert_int_equal(ycfg_bool_word("maybe"), -1);
    assert_int_equal(ycfg_bool_word("On"), -1);
    assert_int_equal(ycfg_bool_word(""), -1);

    ycfg y;
    buf err = BUF_INIT;
    static const char text[] = "a: off\nb: on\nc: maybe\n";
    assert_int_equal(ycfg_parse(&y, text, strlen(text), "t.yaml", 0, &err), 0);
    int v = 7;
    assert_int_equal(ycfg_bool(&y, value_of(&y, "a"), "a", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ycfg_bool(&y, value_of(&y, "b"), "b", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(ycfg_bool(&y, value_of(&y, "c"), "c", &v), -1);
    assert_int_equal(v, 1);     /* untouched on error */
    assert_string_equal(buf_cstr(&err), "t.yaml:3:4: c: \"maybe\" is not true or false");
    ycfg_free(&y);
    buf_free(&err);
}

static void test_size_and_list(void **state)
{
    (void)state;
    ycfg y;
    buf err = BUF_INIT;
    static const char text[] = "s: 25M\nbad: lots\nl: [a, [b], c]\nnot_list: x\n";
    assert_int_equal(ycfg_parse(&y, text, strlen(text), "t.yaml", YCFG_ERROR_LINES, &err), 0);
    unsigned long long bytes = 1;
    assert_int_equal(ycfg_size(&y, value_of(&y, "s"), "s", &bytes), 0);
    assert_true(bytes == 25ULL << 20);
    assert_int_equal(ycfg_size(&y, value_of(&y, "bad"), "bad", &bytes), -1);
    assert_true(bytes == 25ULL << 20);
    ycfg_seq s;
    assert_int_equal(ycfg_seq_begin(&y, value_of(&y, "l"), "l", &s), 0);
    assert_int_equal(s.n, 3);
    size_t texts = 0, items = 0;
    for (yaml_node_t *item; (item = ycfg_seq_next(&s)) != NULL; items++)
        texts += ycfg_text(&y, item, "l") != NULL;
    assert_int_equal(items, 3);
    assert_int_equal(texts, 2);
    assert_int_equal(ycfg_seq_begin(&y, value_of(&y, "not_list"), "not_list", &s), -1);
    assert_null(ycfg_seq_next(&s));
    assert_string_equal(buf_cstr(&err), "");    /* held until ycfg_free */
    ycfg_free(&y);
    assert_string_equal(buf_cstr(&err),
                        "t.yaml:2:6: bad: size \"lots\": expected a number of bytes, optionally followed by K, M, G "
                        "or T (e.g. 500M)\n"
                        "t.yaml:3:8: l: expected a single value, found a list\n"
                        "t.yaml:4:11: not_list: expected a list, found a single value\n");
    buf_free(&err);
}

/* A key given twice: reported at the second with the first's line, in any
 * mapping (top, nested, in a list), and the document stays loaded. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    ycfg y;
    buf err = BUF_INIT;
    static const char text[] =
        "a: 1\n"
        "m:\n"
        "  x: 1\n"
        "  l:\n"
        "    - {k: 1, k: 2}\n"
        "  x: 2\n"
        "a: 3\n"
        "ok: {a: 1, b: 2}\n";
    assert_int_equal(ycfg_parse(&y, text, strlen(text), "t.yaml", YCFG_ERROR_LINES, &err), -1);
    assert_true(y.loaded);
    assert_non_null(y.root);
    assert_int_equal(y.failed, 3);
    ycfg_free(&y);
    assert_string_equal(buf_cstr(&err),
                        "t.yaml:5:14: m.l.k: the key is given twice; the first is on line 5; give each key once\n"
                        "t.yaml:6:3: m.x: the key is given twice; the first is on line 3; give each key once\n"
                        "t.yaml:7:1: a: the key is given twice; the first is on line 1; give each key once\n");
    buf_free(&err);

    /* A daemon's configuration (no YCFG_ERROR_LINES): refused too. */
    assert_int_equal(ycfg_parse(&y, "a: 1\nb: 2\na: 1\n", 12, "d.yaml", 0, &err), -1);
    ycfg_free(&y);
    assert_string_equal(buf_cstr(&err), "d.yaml:3:1: a: the key is given twice; the first is on line 1; "
                                        "give each key once");
    buf_free(&err);

    /* An alias to an enclosing mapping is no parent: the path ends. */
    static const char alias[] = "top: &t {a: 1, b: *t, a: 2}\n";
    assert_int_equal(ycfg_parse(&y, alias, strlen(alias), "t.yaml", YCFG_ERROR_LINES, &err), -1);
    ycfg_free(&y);
    assert_non_null(strstr(buf_cstr(&err), "t.yaml:1:23: top.a: the key is given twice; the first is on line 1"));
    buf_free(&err);
}

/* ycfg_map_next_all goes on past unknown keys; the reports come sorted by
 * line and column whatever the order they were made in. */
static void test_every_problem_sorted(void **state)
{
    (void)state;
    ycfg y;
    buf err = BUF_INIT;
    static const char text[] = "x: 1\nknown: 2\ny: 3\n";
    static const char *const keys[] = {"known", NULL};
    assert_int_equal(ycfg_parse(&y, text, strlen(text), "t.yaml", YCFG_ERROR_LINES, &err), 0);
    ycfg_report(&y, value_of(&y, "known"), "late: made first");
    ycfg_map m;
    int pairs = 0;
    assert_int_equal(ycfg_map_begin(&y, y.root, "", keys, &m), 0);
    assert_int_equal(m.n, 3);
    while (ycfg_map_next_all(&m))
        pairs++;
    ycfg_map_end(&m);
    assert_int_equal(pairs, 1);
    assert_int_equal(y.failed, 3);
    ycfg_free(&y);
    assert_string_equal(buf_cstr(&err),
                        "t.yaml:1:1: (top level): unknown key \"x\"; expected one of: known\n"
                        "t.yaml:2:8: late: made first\n"
                        "t.yaml:3:1: (top level): unknown key \"y\"; expected one of: known\n");
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_size_and_list),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_every_problem_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
