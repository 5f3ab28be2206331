/* store: see store.h. */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn;          /* reused read transaction (reset/renew) */
    char err[256];
    buf cursor_key;         /* where the expiry sweep goes on */
};

typedef struct counter_rec {
    int64_t expires;
    int64_t start;
    uint64_t count;
} counter_rec;

static int lmdb_fail(store *s, const char *what, int rc)
{
    snprintf(s->err, sizeof(s->err), "%s: %s", what, mdb_strerror(rc));
    return -1;
}

const char *store_error(store *s)
{
    return s->err;
}

int store_open(store **out, const char *dir, size_t map_mb, buf *err)
{
    store *s = xcalloc(1, sizeof(*s));
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_mb << 20);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc != 0) {
        buf_printf(err, "cannot open the state database in %s: %s", dir, mdb_strerror(rc));
        if (s->env)
            mdb_env_close(s->env);
        free(s);
        return -1;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    if (rc != 0) {
        buf_printf(err, "cannot open the state database in %s: %s", dir, mdb_strerror(rc));
        mdb_env_close(s->env);
        free(s);
        return -1;
    }
    /* stale readers of a killed earlier instance */
    int dead;
    mdb_reader_check(s->env, &dead);
    buf_init(&s->cursor_key);
    *out = s;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->rtxn)
        mdb_txn_abort(s->rtxn);
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    buf_free(&s->cursor_key);
    free(s);
}

void store_sync(store *s)
{
    mdb_env_sync(s->env, 1);
}

static MDB_txn *rtxn(store *s)
{
    int rc;
    if (s->rtxn)
        rc = mdb_txn_renew(s->rtxn);
    else
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc != 0) {
        if (s->rtxn) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
        }
        lmdb_fail(s, "read", rc);
        return NULL;
    }
    return s->rtxn;
}

int store_get(store *s, const char *key, int64_t now, void *value, size_t len)
{
    MDB_txn *txn = rtxn(s);
    if (!txn)
        return -1;
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, s->dbi, &k, &v);
    int found = 0;
    if (rc == 0 && v.mv_size == len + sizeof(int64_t)) {
        int64_t expires;
        memcpy(&expires, v.mv_data, sizeof(expires));
        if (expires > now) {
            memcpy(value, (char *)v.mv_data + sizeof(int64_t), len);
            found = 1;
        }
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_reset(txn);
        return lmdb_fail(s, "get", rc);
    }
    mdb_txn_reset(txn);
    return found;
}

int store_put(store *s, const char *key, int64_t expires, const void *value, size_t len)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(s, "write", rc);
    char tmp[512];
    if (len + sizeof(int64_t) > sizeof(tmp)) {
        mdb_txn_abort(txn);
        return lmdb_fail(s, "put", EINVAL);
    }
    memcpy(tmp, &expires, sizeof(expires));
    memcpy(tmp + sizeof(expires), value, len);
    MDB_val k = {strlen(key), (void *)key}, v = {len + sizeof(int64_t), tmp};
    rc = mdb_put(txn, s->dbi, &k, &v, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(s, "put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? lmdb_fail(s, "commit", rc) : 0;
}

int store_del(store *s, const char *key)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(s, "write", rc);
    MDB_val k = {strlen(key), (void *)key};
    rc = mdb_del(txn, s->dbi, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return lmdb_fail(s, "del", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? lmdb_fail(s, "commit", rc) : 0;
}

int store_counter_get(store *s, const char *key, int64_t now, int64_t window,
                      uint64_t *count, int64_t *start)
{
    counter_rec r;
    int rc = store_get(s, key, now, &r.start, sizeof(r) - sizeof(int64_t));
    *count = 0;
    *start = 0;
    if (rc < 0)
        return -1;
    if (rc == 1 && now < r.start + window) {
        *count = r.count;
        *start = r.start;
    }
    return 0;
}

int store_counter_add(store *s, const char *key, int64_t now, int64_t window, uint64_t n)
{
    uint64_t count;
    int64_t start;
    if (store_counter_get(s, key, now, window, &count, &start) != 0)
        return -1;
    if (start == 0) {
        start = now;
        count = 0;
    }
    struct { int64_t start; uint64_t count; } rec = {start, count + n};
    return store_put(s, key, start + window, &rec, sizeof(rec));
}

long store_expire(store *s, int64_t now, long max)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return -1;
    if (mdb_cursor_open(txn, s->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k, v;
    int rc;
    if (s->cursor_key.len) {
        k.mv_size = s->cursor_key.len;
        k.mv_data = s->cursor_key.data;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    long deleted = 0, seen = 0;
    while (rc == 0 && seen < max * 10 && deleted < max) {
        seen++;
        int64_t expires = 0;
        if (v.mv_size >= sizeof(int64_t))
            memcpy(&expires, v.mv_data, sizeof(expires));
        if (v.mv_size < sizeof(int64_t) || expires <= now) {
            if (mdb_cursor_del(cur, 0) == 0)
                deleted++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == 0)
                continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    buf_reset(&s->cursor_key);
    if (rc == 0)
        buf_append(&s->cursor_key, k.mv_data, k.mv_size);
    mdb_cursor_close(cur);
    if (mdb_txn_commit(txn) != 0)
        return -1;
    return deleted;
}
