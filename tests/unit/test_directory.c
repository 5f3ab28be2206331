/* Tests for src/lib/directory.c (cmocka) against a real, throwaway slapd
 * started from a temporary directory (no mock of a daemon we ship).
 * The schema is schema/emailng.schema (relative to the working directory,
 * i.e. run from the top of the tree) or $EMAILNG_SCHEMA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "directory.h"
#include "ldap_escape.h"
#include "password.h"

#define BASE "dc=example,dc=test"

struct slapd {
    char root[64];
    char *uri;
    pid_t pid;
};

static struct slapd server;

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void append_uri_escaped(buf *out, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
            buf_append_char(out, (char)*p);
        else
            buf_printf(out, "%%%02X", *p);
    }
}

static int write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    int ok = fputs(text, fp) >= 0;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

static int start_slapd(void **state)
{
    (void)state;
    const char *schema = getenv("EMAILNG_SCHEMA");
    if (schema == NULL)
        schema = "schema/emailng.schema";
    char *schema_abs = realpath(schema, NULL);
    if (schema_abs == NULL) {
        fprintf(stderr, "test_directory: cannot find the schema %s "
                "(run from the top of the tree or set EMAILNG_SCHEMA)\n", schema);
        return -1;
    }

    strcpy(server.root, "/tmp/emailng-test-ldap-XXXXXX");
    if (mkdtemp(server.root) == NULL)
        return -1;
    char *db = xasprintf("%s/db", server.root);
    char *conf_path = xasprintf("%s/slapd.conf", server.root);
    char *socket_path = xasprintf("%s/ldapi", server.root);
    char *log_path = xasprintf("%s/slapd.log", server.root);
    if (mkdir(db, 0700) < 0)
        return -1;

    buf conf = BUF_INIT;
    buf_printf(&conf,
               "include /etc/ldap/schema/core.schema\n"
               "include /etc/ldap/schema/cosine.schema\n"
               "include /etc/ldap/schema/inetorgperson.schema\n"
               "include %s\n"
               "pidfile %s/slapd.pid\n"
               "argsfile %s/slapd.args\n"
               "modulepath /usr/lib/ldap\n"
               "moduleload back_mdb\n"
               "database mdb\n"
               "suffix \"" BASE "\"\n"
               "rootdn \"gidNumber=%u+uidNumber=%u,cn=peercred,cn=external,cn=auth\"\n"
               "directory %s\n"
               "maxsize 10485760\n",
               schema_abs, server.root, server.root,
               (unsigned)getgid(), (unsigned)getuid(), db);
    free(schema_abs);
    if (write_file(conf_path, buf_cstr(&conf)) < 0)
        return -1;
    buf_free(&conf);

    buf uri = BUF_INIT;
    buf_append_str(&uri, "ldapi://");
    append_uri_escaped(&uri, socket_path);
    server.uri = buf_steal(&uri);
    char *listen = xasprintf("%s/", server.uri);

    server.pid = fork();
    if (server.pid < 0)
        return -1;
    if (server.pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execl("/usr/sbin/slapd", "slapd", "-d", "0", "-f", conf_path,
              "-h", listen, (char *)NULL);
        _exit(127);
    }
    free(listen);

    /* ready when a bind over the socket works (at most 10 s) */
    int ready = 0;
    for (int i = 0; i < 200 && !ready; i++) {
        struct directory *d = NULL;
        buf err = BUF_INIT;
        int rc = directory_open(&d, server.uri, BASE, &err);
        directory_close(d);
        buf_free(&err);
        if (rc == 0) {
            ready = 1;
            break;
        }
        int status;
        if (waitpid(server.pid, &status, WNOHANG) == server.pid) {
            fprintf(stderr, "test_directory: slapd exited; see %s\n", log_path);
            server.pid = 0;
            return -1;
        }
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (!ready)
        fprintf(stderr, "test_directory: slapd does not answer; see %s\n",
                log_path);
    free(db);
    free(conf_path);
    free(socket_path);
    free(log_path);
    return ready ? 0 : -1;
}

static int stop_slapd(void **state)
{
    (void)state;
    if (server.pid > 0) {
        kill(server.pid, SIGTERM);
        int status;
        waitpid(server.pid, &status, 0);
    }
    if (server.root[0] && getenv("EMAILNG_KEEP_TEST_DIR") == NULL)
        nftw(server.root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(server.uri);
    return 0;
}

static struct directory *open_ok(void)
{
    struct directory *d = NULL;
    buf err = BUF_INIT;
    if (directory_open(&d, server.uri, BASE, &err) != 0)
        fail_msg("directory_open: %s", buf_cstr(&err));
    buf_free(&err);
    return d;
}

#define CHECK_OK(call) do { \
        buf_reset(&err); \
        if ((call) != 0) fail_msg("%s: %s", #call, buf_cstr(&err)); \
    } while (0)

#define CHECK_FAIL(call, text) do { \
        buf_reset(&err); \
        assert_int_equal((call), -1); \
        if (strstr(buf_cstr(&err), (text)) == NULL) \
            fail_msg("%s: error \"%s\" lacks \"%s\"", #call, buf_cstr(&err), (text)); \
    } while (0)

static const char *const domains[] = {"example.test"};

/* runs first: everything before init_base complains clearly */
static void test_a_uninitialised(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    struct directory_user *users;
    size_t n;
    CHECK_FAIL(directory_user_list(d, &users, &n, &err),
               "cannot list users: ou=users," BASE " does not exist");
    CHECK_FAIL(directory_user_add(d, "a@example.test", "{CRYPT}x", 0, NULL, &err),
               "the directory is not initialised");
    directory_close(d);
    buf_free(&err);
}

static void test_b_init_base(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    CHECK_OK(directory_init_base(d, domains, 1, &err));
    CHECK_OK(directory_init_base(d, domains, 1, &err));   /* idempotent */
    struct directory_user *users;
    size_t n;
    CHECK_OK(directory_user_list(d, &users, &n, &err));
    assert_int_equal(n, 0);
    directory_user_list_free(users, n);
    directory_close(d);
    buf_free(&err);
}

static void test_c_users(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    struct directory_user u;

    CHECK_OK(directory_user_add(d, "alice@example.test", "{CRYPT}$y$j9T$a$b", 0,
                                "pair1", &err));
    CHECK_OK(directory_user_add(d, "bob@example.test", "{CRYPT}$y$j9T$c$d",
                                1048576, NULL, &err));
    CHECK_FAIL(directory_user_add(d, "alice@example.test", "{CRYPT}x", 0, NULL, &err),
               "user alice@example.test already exists");
    CHECK_FAIL(directory_user_add(d, "ALICE@example.test", "{CRYPT}x", 0, NULL, &err),
               "user ALICE@example.test already exists");
    CHECK_FAIL(directory_user_add(d, "nolocal", "{CRYPT}x", 0, NULL, &err),
               "not a full address");

    CHECK_OK(directory_user_get(d, "alice@example.test", &u, &err));
    assert_string_equal(u.mail, "alice@example.test");
    assert_true(u.quota_bytes == 0);
    assert_string_equal(u.status, "active");
    assert_string_equal(u.mail_host, "pair1");
    assert_int_equal(u.n_services, 5);
    assert_string_equal(u.services[0], "smtp");
    assert_string_equal(u.services[4], "lmtp");
    assert_int_equal(u.n_alternate_addresses, 0);
    directory_user_clear(&u);

    CHECK_OK(directory_user_get(d, "bob@example.test", &u, &err));
    assert_true(u.quota_bytes == 1048576);
    assert_string_equal(u.mail_host, "");
    directory_user_clear(&u);

    CHECK_OK(directory_user_set_quota(d, "bob@example.test", 2ULL << 30, &err));
    CHECK_OK(directory_user_get(d, "bob@example.test", &u, &err));
    assert_true(u.quota_bytes == 2ULL << 30);
    directory_user_clear(&u);
    CHECK_OK(directory_user_set_quota(d, "bob@example.test", 0, &err));
    CHECK_OK(directory_user_set_quota(d, "bob@example.test", 0, &err)); /* again */
    CHECK_OK(directory_user_get(d, "bob@example.test", &u, &err));
    assert_true(u.quota_bytes == 0);
    directory_user_clear(&u);

    CHECK_OK(directory_user_set_password(d, "bob@example.test", "{CRYPT}$y$new", &err));
    CHECK_FAIL(directory_user_set_password(d, "carol@example.test", "{CRYPT}x", &err),
               "no such user carol@example.test");
    CHECK_FAIL(directory_user_set_quota(d, "carol@example.test", 5, &err),
               "no such user carol@example.test");
    CHECK_FAIL(directory_user_get(d, "carol@example.test", &u, &err),
               "no such user carol@example.test");

    struct directory_user *users;
    size_t n;
    CHECK_OK(directory_user_list(d, &users, &n, &err));
    assert_int_equal(n, 2);
    assert_string_equal(users[0].mail, "alice@example.test");
    assert_string_equal(users[1].mail, "bob@example.test");
    directory_user_list_free(users, n);

    CHECK_OK(directory_user_del(d, "bob@example.test", &err));
    CHECK_FAIL(directory_user_del(d, "bob@example.test", &err),
               "no such user bob@example.test");
    directory_close(d);
    buf_free(&err);
}

/* The webmail's password check (emailng-passwd): the right password of an
 * existing user only; an unknown user is a plain "no", not an error. */
static void test_c2_check_password(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT, hash = BUF_INIT;
    if (password_hash("Right-password-1", &hash, &err) != 0)
        fail_msg("password_hash: %s", buf_cstr(&err));
    CHECK_OK(directory_user_add(d, "pwcheck@example.test", buf_cstr(&hash), 0, NULL, &err));
    assert_int_equal(directory_user_check_password(d, "pwcheck@example.test", "Right-password-1", &err), 1);
    assert_int_equal(directory_user_check_password(d, "pwcheck@example.test", "Right-password-2", &err), 0);
    assert_int_equal(directory_user_check_password(d, "pwcheck@example.test", "", &err), 0);
    assert_int_equal(directory_user_check_password(d, "nobody@example.test", "Right-password-1", &err), 0);
    assert_int_equal(directory_user_check_password(d, "*)(mail=*", "Right-password-1", &err), 0);
    CHECK_OK(directory_user_set_password(d, "pwcheck@example.test", "{CRYPT}*", &err));
    assert_int_equal(directory_user_check_password(d, "pwcheck@example.test", "Right-password-1", &err), 0);
    CHECK_OK(directory_user_del(d, "pwcheck@example.test", &err));
    directory_close(d);
    buf_free(&hash);
    buf_free(&err);
}

static void test_d_aliases(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    static const char *const team[] = {"alice@example.test", "x@other.test"};
    static const char *const more[] = {"x@other.test", "y@other.test",
                                       "Y@other.test"};
    static const char *const self[] = {"team@example.test"};

    CHECK_OK(directory_alias_add(d, "team@example.test", team, 2, NULL, &err));
    CHECK_OK(directory_alias_add(d, "team@example.test", more, 3, NULL, &err));
    int was_member[3] = {-1, -1, -1};
    CHECK_OK(directory_alias_add(d, "team@example.test", more, 1, was_member, &err)); /* no-op */
    assert_int_equal(was_member[0], 1);
    CHECK_OK(directory_alias_add(d, "abuse@example.test", team, 1, NULL, &err));
    CHECK_FAIL(directory_alias_add(d, "alice@example.test", team + 1, 1, NULL, &err),
               "alice@example.test is a user; an alias cannot have a user's "
               "address");
    CHECK_FAIL(directory_alias_add(d, "team@example.test", self, 1, NULL, &err),
               "cannot forward to itself");
    CHECK_FAIL(directory_alias_add(d, "z@example.test", team, 0, NULL, &err),
               "at least one destination");
    CHECK_FAIL(directory_user_add(d, "team@example.test", "{CRYPT}x", 0, NULL, &err),
               "team@example.test is already an alias");
    CHECK_FAIL(directory_user_del(d, "team@example.test", &err),
               "no such user team@example.test (it is an alias)");
    CHECK_FAIL(directory_alias_del(d, "alice@example.test", &err),
               "no such alias alice@example.test (it is a user)");

    struct directory_alias *aliases;
    size_t n;
    CHECK_OK(directory_alias_list(d, &aliases, &n, &err));
    assert_int_equal(n, 2);
    assert_string_equal(aliases[0].mail, "abuse@example.test");
    assert_int_equal(aliases[0].n_destinations, 1);
    assert_string_equal(aliases[1].mail, "team@example.test");
    assert_int_equal(aliases[1].n_destinations, 3);
    assert_string_equal(aliases[1].status, "active");
    directory_alias_list_free(aliases, n);

    /* Members come out one by one; the last one takes the alias along. */
    static const char *const stranger[] = {"nobody@example.test"};
    static const char *const y_upper[] = {"Y@OTHER.test"};
    int deleted = -1;
    CHECK_FAIL(directory_alias_remove_members(d, "team@example.test", stranger, 1, &deleted, &err),
               "nobody@example.test is not a member of alias team@example.test");
    CHECK_OK(directory_alias_remove_members(d, "team@example.test", y_upper, 1, &deleted, &err));
    assert_int_equal(deleted, 0);
    CHECK_OK(directory_alias_remove_members(d, "abuse@example.test", team, 1, &deleted, &err));
    assert_int_equal(deleted, 1);
    CHECK_FAIL(directory_alias_del(d, "abuse@example.test", &err),
               "no such alias abuse@example.test");
    CHECK_OK(directory_alias_list(d, &aliases, &n, &err));
    assert_int_equal(n, 1);
    assert_int_equal(aliases[0].n_destinations, 2);
    directory_alias_list_free(aliases, n);

    enum directory_address_use use;
    CHECK_OK(directory_address_use(d, "team@example.test", &use, &err));
    assert_int_equal(use, DIRECTORY_ADDRESS_ALIAS);
    CHECK_OK(directory_address_use(d, "alice@example.test", &use, &err));
    assert_int_equal(use, DIRECTORY_ADDRESS_USER);
    CHECK_OK(directory_address_use(d, "free@example.test", &use, &err));
    assert_int_equal(use, DIRECTORY_ADDRESS_FREE);
    directory_close(d);
    buf_free(&err);
}

/* Hostile values reach the server escaped: they are stored literally and
 * never widen a search. */
static void test_e_hostile(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    struct directory_user u;
    static const char *const hostile[] = {
        "*)(uid=*", "*", "a,ou=aliases,dc=example,dc=test@x", " lead@x",
        "#x@x", "x+mail=y@x", "<>;\"\\@x",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        CHECK_FAIL(directory_user_get(d, hostile[i], &u, &err), "no such user");
        CHECK_FAIL(directory_user_del(d, hostile[i], &err), "no such user");
        CHECK_FAIL(directory_alias_del(d, hostile[i], &err), "no such alias");
    }
    /* a value with LDAP syntax can be stored and read back unchanged */
    CHECK_OK(directory_user_add(d, "a,b+c=d@example.test", "{CRYPT}x", 0, NULL, &err));
    CHECK_OK(directory_user_get(d, "a,b+c=d@example.test", &u, &err));
    assert_string_equal(u.mail, "a,b+c=d@example.test");
    directory_user_clear(&u);
    CHECK_FAIL(directory_user_add(d, "*", "{CRYPT}x", 0, NULL, &err), "not a full address");
    CHECK_OK(directory_user_del(d, "a,b+c=d@example.test", &err));
    /* "*" as an alias must not match every entry and be refused as "taken" */
    static const char *const dest[] = {"alice@example.test"};
    CHECK_OK(directory_alias_add(d, "*@example.test", dest, 1, NULL, &err));
    CHECK_OK(directory_alias_del(d, "*@example.test", &err));
    directory_close(d);
    buf_free(&err);
}

/* runs last: stop the server, then talk to it */
static void test_f_not_answering(void **state)
{
    (void)state;
    struct directory *d = open_ok();
    buf err = BUF_INIT;
    kill(server.pid, SIGTERM);
    int status;
    waitpid(server.pid, &status, 0);
    server.pid = 0;

    struct directory_user *users;
    size_t n;
    CHECK_FAIL(directory_user_list(d, &users, &n, &err),
               "is not answering: Can't contact LDAP server");
    assert_non_null(strstr(buf_cstr(&err), server.uri));
    directory_close(d);

    struct directory *d2 = NULL;
    CHECK_FAIL(directory_open(&d2, server.uri, BASE, &err),
               "is not answering");
    assert_null(d2);
    CHECK_FAIL(directory_open(&d2, server.uri, "not a dn", &err),
               "is not a valid DN");
    buf_free(&err);
}

int main(void)
{
    /* libldap writes to the socket without MSG_NOSIGNAL; a program using
     * the directory ignores SIGPIPE (see directory.h) */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_uninitialised),
        cmocka_unit_test(test_b_init_base),
        cmocka_unit_test(test_c_users),
        cmocka_unit_test(test_c2_check_password),
        cmocka_unit_test(test_d_aliases),
        cmocka_unit_test(test_e_hostile),
        cmocka_unit_test(test_f_not_answering),
    };
    return cmocka_run_group_tests(tests, start_slapd, stop_slapd);
}
