/* yaml_config: a YAML configuration file as a libyaml document, and typed
 * getters over its nodes. Every problem is reported in one form,
 *     FILE:LINE:COL: KEY: what is wrong; what was expected
 * (KEY the dotted path, e.g. "quota.timeout_ms"; control characters from
 * the file shown as \n, \x01 ...), appended to the error buf given to
 * ycfg_parse/ycfg_load. The getters return 0, or -1 after
 * reporting; an output is only written on success. By default a report
 * ends without a newline and err keeps only the first (a daemon stops at
 * its first error); with
 * YCFG_ERROR_LINES each report ends in '\n', so a loader can go on and
 * collect every problem (y->failed counts them); those reports are kept
 * and appended to err by ycfg_free, sorted by line and column.
 * A key given twice in one mapping is an error in every file (libyaml
 * keeps both silently). */
#ifndef EMAILNG_YAML_CONFIG_H
#define EMAILNG_YAML_CONFIG_H

#include <stddef.h>
#include <yaml.h>

#include "buf.h"

#define YCFG_ERROR_LINES 1u     /* ycfg_parse flags: end every report with '\n',
                                   append them sorted by ycfg_free */
#define YCFG_LIST_SCALAR 1u     /* ycfg_strings flags: one value is a list of one,
                                   "", "~" and "null" the empty list */

typedef struct ycfg_held_report ycfg_held_report;     /* yaml_config.c */

typedef struct ycfg {
    const char *file;           /* the name used in reports */
    yaml_document_t doc;
    yaml_node_t *root;          /* NULL for an empty document */
    buf *err;
    unsigned flags;
    const char *top;            /* the top mapping in reports: "(top level)" */
    int failed;                 /* reports made */
    int loaded;                 /* doc is to be deleted by ycfg_free */
    ycfg_held_report *held;     /* YCFG_ERROR_LINES: reports until ycfg_free */
    size_t n_held;
} ycfg;

/* A list of strings, NULL-terminated when built here (so also an argv). */
typedef struct ycfg_list {
    char **items;
    size_t n;
} ycfg_list;

/* Parses text into y->doc. On a YAML error reports
 * "FILE:LINE:COL: not valid YAML: problem context" and returns -1 with
 * nothing loaded. A key given twice in a mapping is reported at the second
 * (KEY: the key is given twice; the first is on line N; ...) and also
 * returns -1, with the document loaded (y->loaded): a loader collecting
 * every problem may go on walking it. Call ycfg_free afterwards in every
 * case. */
int ycfg_parse(ycfg *y, const char *text, size_t len, const char *file, unsigned flags, buf *err);
/* Reads path (at most max bytes; a refusal names the file), then ycfg_parse. */
int ycfg_load(ycfg *y, const char *path, size_t max, unsigned flags, buf *err);
/* Deletes the document; with YCFG_ERROR_LINES appends the reports to err
 * first, in the order of their line and column. */
void ycfg_free(ycfg *y);

/* Appends "FILE:LINE:COL: " (the node's start; 1:1 for NULL) and the
 * message; always returns -1. */
int ycfg_report(ycfg *y, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "a single value", "a list", "a mapping of keys" or "nothing". */
const char *ycfg_kind(const yaml_node_t *n);

/* The text of a scalar node; NULL (reported) for other nodes and for a
 * value with a NUL byte in it. */
const char *ycfg_text(ycfg *y, const yaml_node_t *n, const char *key);
int ycfg_str(ycfg *y, const yaml_node_t *n, const char *key, char **out);    /* frees *out */
/* A whole number, decimal, from min to max:
 * KEY: "70000" is not a whole number from 1 to 65535 */
int ycfg_long(ycfg *y, const yaml_node_t *n, const char *key, long min, long max, long *out);
int ycfg_int(ycfg *y, const yaml_node_t *n, const char *key, int min, int max, int *out);
int ycfg_port(ycfg *y, const yaml_node_t *n, const char *key, int *out);    /* 1..65535 */
/* true/yes/on = 1, false/no/off = 0: KEY: "maybe" is not true or false.
 * ycfg_bool_word is the one reading of these words (1, 0, or -1). */
int ycfg_bool(ycfg *y, const yaml_node_t *n, const char *key, int *out);
int ycfg_bool_word(const char *s);
/* A size in bytes, as size_parse (address.h) reads it: 1048576, 500K,
 * 25M, 2G, 1T. KEY: and size_parse's reason. */
int ycfg_size(ycfg *y, const yaml_node_t *n, const char *key, unsigned long long *out);
/* A sequence of single values; replaces *out (freeing it) on success. */
int ycfg_strings(ycfg *y, const yaml_node_t *n, const char *key, unsigned flags, ycfg_list *out);
void ycfg_list_add(ycfg_list *l, const char *s);
void ycfg_list_free(ycfg_list *l);

/* Walking a list, item by item (each item's node, for its position):
 *     ycfg_seq s;
 *     if (ycfg_seq_begin(y, node, "domains", &s) == 0)
 *         for (yaml_node_t *item; (item = ycfg_seq_next(&s)) != NULL;) ...
 * ycfg_seq_begin returns -1 (reported: "KEY: expected a list, found a
 * single value") if node is not a sequence; s is then empty. */
typedef struct ycfg_seq {
    ycfg *y;
    yaml_node_item_t *next, *end;
    size_t n;                           /* items in the list */
} ycfg_seq;

int ycfg_seq_begin(ycfg *y, const yaml_node_t *node, const char *key, ycfg_seq *s);
yaml_node_t *ycfg_seq_next(ycfg_seq *s);    /* NULL after the last */

/* Walking a mapping:
 *     static const char *const keys[] = {"enabled", "delay", NULL};
 *     ycfg_map m;
 *     int rc = ycfg_map_begin(y, node, "greylist", keys, &m);
 *     while (rc == 0 && (rc = ycfg_map_next(&m)) > 0)
 *         switch (m.index) { case 0: rc = ycfg_bool(y, m.value, m.path, &on); break; ... }
 *     ycfg_map_end(&m);
 * ycfg_map_next returns 1 with the next pair, 0 at the end, or -1 after
 * reporting a key that is not a single value or not allowed:
 *     greylist: unknown key "dealy"; expected one of: enabled, delay
 * With allowed NULL every key is taken (index -1): names chosen by the
 * user, such as store pairs. section is the mapping's own path; "" for
 * the top, which reports call y->top. After -1, ycfg_map_next may be
 * called again: it goes on with the next pair; ycfg_map_next_all does
 * that (1 or 0), for a loader that reports every problem. */
typedef struct ycfg_map {
    ycfg *y;
    const char *section;
    const char *const *allowed;
    yaml_node_pair_t *next, *end;
    const char *key;                    /* the current pair */
    yaml_node_t *key_node, *value;
    int index;                          /* in allowed, or -1 */
    size_t n;                           /* pairs in the mapping */
    buf path_buf;
    const char *path;                   /* "section.key", or "key" at the top */
} ycfg_map;

/* -1 (reported: "SECTION: expected a mapping of keys, found a list") if
 * node is not a mapping; m is then empty, and ycfg_map_end still fine. */
int ycfg_map_begin(ycfg *y, const yaml_node_t *node, const char *section, const char *const *allowed,
                   ycfg_map *m);
int ycfg_map_next(ycfg_map *m);
int ycfg_map_next_all(ycfg_map *m);
void ycfg_map_end(ycfg_map *m);

#endif
