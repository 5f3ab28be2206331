/* cmd_deploy: `emailng deploy`; see cmd_deploy.h. */
#include "cmd_deploy.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy_upgrade.h"
#include "dkim.h"
#include "fsutil.h"
#include "healthd_service.h"
#include "process.h"
#include "replication.h"
#include "site_tls.h"
#include "site_webmail.h"
#include "srs_service.h"
#include "webmail_service.h"

/* Where each deployed host keeps its state and site file (what its own
 * `emailng up --host NAME` uses). */
#define HOST_STATE DEFAULT_STATE
#define HOST_SITE_FILE "/etc/emailng/site.yaml"
#define ANSIBLE_PLAYBOOK "/usr/bin/ansible-playbook"

/* The inventory groups, one per EmailNG role, in the order site.yml plays
 * them (what each depends on comes first). */
static const struct {
    const char *group;
    unsigned role;
} groups[] = {
    {"directory", ROLE_DIRECTORY},
    {"store", ROLE_STORE},
    {"proxy", ROLE_PROXY},
    {"relay", ROLE_RELAY},
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

static int srs_on(const struct site *site) { return site->outbound.srs_enabled; }
static int dkim_on(const struct site *site) { return site->dkim.enabled; }

/* The control host's secrets (STATE/secrets/NAME) and who gets them. */
static const struct {
    const char *name;
    unsigned roles;
    int (*wanted)(const struct site *site);     /* NULL: always */
} secrets[] = {
    /* the pair's doveadm server; its clients: the proxies' catch-up check,
     * the directory's `user add/del` (mailbox_remote.c) */
    {"doveadm-password", ROLE_STORE | ROLE_PROXY | ROLE_DIRECTORY, NULL},
    {"healthd-probe", ROLE_DIRECTORY | ROLE_PROXY, NULL},  /* the directory makes the account, proxies log in */
    {"srs-secret", ROLE_RELAY, srs_on},                    /* one secret for every relay */
    {"dkim", ROLE_RELAY, dkim_on},                         /* a folder: every domain's keys */
    {"webmail-des-key", ROLE_PROXY, site_webmail_enabled}, /* Roundcube's on every proxy */
};
#define N_SECRETS (sizeof secrets / sizeof secrets[0])

/* `deploy --rotate-secret NAME`: the secrets that can be replaced on a
 * deployed site. The hosts get the new file with the rest of their files;
 * `up --secrets-changed` then makes the daemons that hold it take it
 * (secret_users.c). */
static const struct {
    const char *name;       /* what the operator types */
    const char *file;       /* STATE/secrets/FILE, a name of secrets[] */
    int (*rotate)(const char *state, buf *err);
} rotatable[] = {
    {"doveadm", "doveadm-password", replication_secret_rotate},
};
#define N_ROTATABLE (sizeof rotatable / sizeof rotatable[0])

/* Everything made once per site, on the control host. */
static int control_files_ensure(const struct site *site, const char *state, buf *err)
{
    int changed = 0, made = 0;
    int rc = site_tls_ensure(site, state, NULL, &changed, err);
    if (rc == 0)
        rc = dkim_keys_ensure(site, state, &made, err);
    if (rc == 0)
        rc = replication_secret_ensure(state, err);
    if (rc == 0)
        rc = healthd_probe_secret_ensure(state, err);
    if (rc == 0 && site->outbound.srs_enabled)
        rc = srs_secret_ensure(state, err);
    if (rc == 0 && site_webmail_enabled(site))
        rc = webmail_des_key_ensure(state, err);
    if (rc == 0 && changed)
        printf("  certificates made or renewed in %s/tls (the CA key stays here)\n", state);
    if (rc == 0 && made)
        printf("  DKIM: %d key%s made in %s/secrets/dkim\n", made, made == 1 ? "" : "s", state);
    return rc;
}

/* STATE/ssh/id_ed25519: root's key for the hosts, made on first use. */
static int ssh_key_ensure(const char *state, buf *err)
{
    char *dir = xasprintf("%s/ssh", state);
    char *key = xasprintf("%s/id_ed25519", dir);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0700, err);
    if (rc == 0 && !fs_exists(key)) {
        /* No passphrase: the file is root's 0600 on the control host
         * (ansible-playbook runs unattended). */
        const char *argv[] = {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "emailng-deploy",
                              "-f", key, NULL};
        buf out = BUF_INIT;
        int status = process_run(argv, NULL, &out, err);
        if (status != 0) {
            if (status > 0)
                buf_printf(err, "ssh-keygen exited with %d: %s", status, buf_cstr(&out));
            rc = -1;
        }
        buf_free(&out);
        if (rc == 0 && chmod(key, 0600) != 0) {
            buf_printf(err, "cannot chmod %s: %s", key, strerror(errno));
            rc = -1;
        }
        if (rc == 0)
            fprintf(stderr, "emailng: deploy: SSH key made: %s (install %s.pub as root's authorized key on every "
                    "host)\n", key, key);
    }
    free(dir);
    free(key);
    return rc;
}

static void yaml_string(buf *out, const char *s)
{
    cli_json_string(out, s);     /* a JSON string is a YAML string */
}

/* - {name: FILE, mode: "0640", group: postfix} for each of the host's TLS
 * files on the control host, as site_tls made them. */
static int tls_files_vars(const char *state, const char *host, buf *out, buf *err)
{
    char *dir = xasprintf("%s/tls/%s", state, host);
    int rc = 0;
    /* Sorted, so that the inventory is the same from run to run. */
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        buf_printf(err, "cannot read %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    buf_append_str(out, "          emailng_tls_files:\n");
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char *path = xasprintf("%s/%s", dir, name);
        struct stat st;
        if (name[0] != '.' && rc == 0) {
            if (lstat(path, &st) != 0) {
                buf_printf(err, "cannot stat %s: %s", path, strerror(errno));
                rc = -1;
            } else if (S_ISREG(st.st_mode)) {
                struct group *gr = getgrgid(st.st_gid);
                if (gr == NULL) {
                    buf_printf(err, "%s: its group %ld has no name", path, (long)st.st_gid);
                    rc = -1;
                } else {
                    buf_printf(out, "            - {name: %s, mode: \"%04o\", group: %s}\n", name,
                               (unsigned)(st.st_mode & 07777), gr->gr_name);
                }
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    free(dir);
    return rc;
}

static int write_inventory(const struct site *site, const char *state, const char *path, buf *err)
{
    buf y = BUF_INIT;
    int rc = 0;
    char *program = realpath("/proc/self/exe", NULL);
    char *datadir = realpath(cli_datadir(), NULL);
    if (program == NULL || datadir == NULL) {
        buf_printf(err, "cannot find the emailng program or its data folder %s: %s", cli_datadir(),
                   strerror(errno));
        free(program);
        free(datadir);
        return -1;
    }
    buf_printf(&y, "# Written by `emailng deploy` from the site file %s; do not edit\n", site->source);
    buf_append_str(&y, "# (change the site file and run `emailng deploy` again).\n---\nall:\n  vars:\n");
    buf_append_str(&y, "    emailng_site: ");
    yaml_string(&y, site->name);
    /* The hosts run the emailng installed at the control host's path (the
     * same package everywhere). */
    buf_append_str(&y, "\n    emailng_program: ");
    yaml_string(&y, program);
    buf_append_str(&y, "\n    emailng_datadir: ");
    yaml_string(&y, datadir);
    buf_append_str(&y, "\n    emailng_state: ");
    yaml_string(&y, HOST_STATE);
    buf_append_str(&y, "\n    emailng_site_file: ");
    yaml_string(&y, HOST_SITE_FILE);
    buf_append_str(&y, "\n    emailng_control_state: ");
    yaml_string(&y, state);
    buf_append_str(&y, "\n  children:\n");
    for (size_t g = 0; rc == 0 && g < N_GROUPS; g++) {
        buf_printf(&y, "    %s:\n      hosts:\n", groups[g].group);
        for (size_t i = 0; rc == 0 && i < site->n_hosts; i++) {
            const struct site_host *h = &site->hosts[i];
            if (!(h->roles & groups[g].role))
                continue;
            buf_printf(&y, "        %s:\n          ansible_host: %s\n          emailng_role: %s\n", h->name,
                       h->address, groups[g].group);
            if (h->store_pair)
                buf_printf(&y, "          emailng_store_pair: %s\n", h->store_pair);
            buf_append_str(&y, "          emailng_secrets:");
            int any = 0;
            for (size_t s = 0; s < N_SECRETS; s++) {
                char *file = xasprintf("%s/secrets/%s", state, secrets[s].name);
                if ((h->roles & secrets[s].roles) && (!secrets[s].wanted || secrets[s].wanted(site))
                    && fs_exists(file)) {
                    buf_printf(&y, "\n            - %s", secrets[s].name);
                    any = 1;
                }
                free(file);
            }
            buf_append_str(&y, any ? "\n" : " []\n");
            rc = tls_files_vars(state, h->name, &y, err);
        }
    }
    if (rc == 0)
        rc = fs_write_file(path, y.data, y.len, 0644, err);
    buf_free(&y);
    free(program);
    free(datadir);
    return rc;
}

static int write_config(const char *state, const char *path, buf *err)
{
    buf c = BUF_INIT;
    buf_printf(&c,
               "# Written by `emailng deploy`: Ansible's settings for this site.\n"
               "[defaults]\n"
               "inventory = %s/ansible/inventory.yml\n"
               "roles_path = %s/ansible/roles\n"
               "remote_user = root\n"
               "private_key_file = %s/ssh/id_ed25519\n"
               "host_key_checking = True\n"
               "interpreter_python = /usr/bin/python3\n"
               "local_tmp = %s/ansible/tmp\n"
               "retry_files_enabled = False\n"
               "forks = 8\n"
               "\n[ssh_connection]\n"
               "# Only the hosts' keys listed here are trusted (put them there after checking them).\n"
               "ssh_args = -o UserKnownHostsFile=%s/ssh/known_hosts -o StrictHostKeyChecking=yes "
               "-o IdentitiesOnly=yes -o ControlMaster=auto -o ControlPersist=30s -o ConnectTimeout=10\n"
               "control_path_dir = %s/ansible/cp\n"
               "pipelining = True\n",
               state, state, state, state, state, state);
    int rc = fs_write_file(path, c.data, c.len, 0644, err);
    buf_free(&c);
    return rc;
}

/* STATE/ansible/{site.yml,roles}: a fresh copy of DATADIR/ansible's. */
static int copy_playbook(const char *state, buf *err)
{
    char *roles = xasprintf("%s/ansible/roles", state);
    char *from_roles = xasprintf("%s/ansible/roles", cli_datadir());
    char *play = xasprintf("%s/ansible/site.yml", state);
    char *from_play = xasprintf("%s/ansible/site.yml", cli_datadir());
    int rc = fs_remove_tree(roles, err);
    if (rc == 0) {
        const char *argv[] = {"/bin/cp", "-R", from_roles, roles, NULL};
        buf out = BUF_INIT;
        int status = process_run(argv, NULL, &out, err);
        if (status != 0) {
            if (status > 0)
                buf_printf(err, "cp -R %s %s exited with %d: %s", from_roles, roles, status, buf_cstr(&out));
            rc = -1;
        }
        buf_free(&out);
    }
    if (rc == 0)
        rc = fs_copy_file(from_play, play, 0644, err);
    /* The rolling upgrade's playbook (`deploy --upgrade`) beside it. */
    char *upgrade = xasprintf("%s/ansible/upgrade.yml", state);
    char *from_upgrade = xasprintf("%s/ansible/upgrade.yml", cli_datadir());
    if (rc == 0)
        rc = fs_copy_file(from_upgrade, upgrade, 0644, err);
    free(upgrade);
    free(from_upgrade);
    free(roles);
    free(from_roles);
    free(play);
    free(from_play);
    return rc;
}

/* ansible-playbook with the terminal: the operator watches it. The
 * environment is this process's own: deploy ends when the playbook does. */
static int run_playbook(const char *state, const char *playbook, const char *extra_vars, buf *err)
{
    char *config = xasprintf("%s/ansible/ansible.cfg", state);
    char *play = xasprintf("%s/ansible/%s", state, playbook);
    setenv("ANSIBLE_CONFIG", config, 1);
    setenv("ANSIBLE_NOCOLOR", "1", 1);
    const char *argv[] = {ANSIBLE_PLAYBOOK, play, extra_vars ? "--extra-vars" : NULL, extra_vars, NULL};
    int status = process_run_attached(argv, err);
    int rc = 0;
    if (status == 127) {
        buf_printf(err, "cannot run %s (package ansible)", ANSIBLE_PLAYBOOK);
        rc = -1;
    } else if (status != 0) {
        if (status > 0)
            buf_printf(err, "ansible-playbook failed (exit %d, see above); the hosts it names stopped there",
                       status);
        rc = -1;
    }
    free(config);
    free(play);
    return rc;
}

static void usage(void)
{
    fputs("usage: emailng deploy --site FILE [--state DIR] [--print-key] [--upgrade [--build DIR]]\n"
          "                      [--rotate-secret doveadm]\n", stderr);
}

int cmd_deploy(const struct options *o, int argc, char **argv)
{
    int print_key = 0, upgrade = 0;
    const char *build = NULL;
    int rotate = -1;     /* index in rotatable[] */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--print-key") == 0) {
            print_key = 1;
        } else if (strcmp(argv[i], "--upgrade") == 0) {
            upgrade = 1;      /* upgrade.yml: host by host (deploy_upgrade.h) */
        } else if (strcmp(argv[i], "--build") == 0 && i + 1 < argc) {
            build = argv[++i];
        } else if (strcmp(argv[i], "--rotate-secret") == 0 && i + 1 < argc) {
            i++;
            for (size_t r = 0; r < N_ROTATABLE; r++)
                if (strcmp(argv[i], rotatable[r].name) == 0)
                    rotate = (int)r;
            if (rotate < 0) {
                char *q = cli_quoted(argv[i]);
                fprintf(stderr, "emailng: deploy: --rotate-secret %s: the secrets that can be rotated are:", q);
                for (size_t r = 0; r < N_ROTATABLE; r++)
                    fprintf(stderr, " %s", rotatable[r].name);
                fputc('\n', stderr);
                free(q);
                return EXIT_USAGE;
            }
        } else {
            char *q = cli_quoted(argv[i]);
            fprintf(stderr, "emailng: deploy: unknown argument %s\n", q);
            free(q);
            usage();
            return EXIT_USAGE;
        }
    }
    if (build && !upgrade) {
        fputs("emailng: deploy: --build DIR goes with --upgrade (a new build is rolled out host by host)\n", stderr);
        usage();
        return EXIT_USAGE;
    }
    if (rotate >= 0 && upgrade) {
        fputs("emailng: deploy: --rotate-secret is a deploy of its own, not part of --upgrade\n", stderr);
        usage();
        return EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fputs("emailng: deploy: must run as root (the site's secrets and root's SSH key are root's)\n", stderr);
        return EXIT_FAILED;
    }
    if (o->host) {
        fputs("emailng: deploy: --host does not apply: every host of the site is deployed\n", stderr);
        return EXIT_USAGE;
    }
    const char *state = o->state_dir;
    /* ssh's connection sockets are STATE/ansible/cp/HASH10.RANDOM16, and a
     * Unix socket's name holds 107 bytes: a longer STATE would make every
     * host "unreachable" with a message about the socket, not the cause. */
    enum { STATE_PATH_MAX_FOR_SSH = 107 - (int)sizeof("/ansible/cp/0123456789.0123456789abcdef") + 1 };
    if (strlen(state) > STATE_PATH_MAX_FOR_SSH) {
        fprintf(stderr, "emailng: deploy: the state folder's path %s is %zu characters long; ssh's connection "
                "sockets below it need it to be at most %d: use a shorter --state\n", state, strlen(state),
                STATE_PATH_MAX_FOR_SSH);
        return EXIT_USAGE;
    }
    buf err = BUF_INIT;
    int rc = fs_ensure_dir(state, NULL, NULL, 0755, &err);
    if (rc == 0)
        rc = ssh_key_ensure(state, &err);
    if (rc == 0 && print_key) {
        char *pub = xasprintf("%s/ssh/id_ed25519.pub", state);
        buf key = BUF_INIT;
        rc = fs_read_file(pub, 4096, &key, &err);
        if (rc == 0)
            fputs(buf_cstr(&key), stdout);
        buf_free(&key);
        free(pub);
    }
    if (rc != 0 || print_key) {
        if (rc != 0)
            cli_fail("deploy", &err);
        buf_free(&err);
        return rc == 0 ? EXIT_DONE : EXIT_FAILED;
    }
    if (o->site_file == NULL) {
        fputs("emailng: deploy: --site FILE is required (the site to deploy)\n", stderr);
        buf_free(&err);
        return EXIT_USAGE;
    }
    struct site site;
    if (cli_load_site(o, &site, 0) != 0) {
        buf_free(&err);
        return EXIT_FAILED;
    }
    if (site.n_hosts < 2) {
        fprintf(stderr, "emailng: deploy: site %s has one host: run `emailng up --site FILE` on it\n", site.name);
        site_free(&site);
        buf_free(&err);
        return EXIT_FAILED;
    }
    printf("emailng: deploy site %s (%s) from the control state %s, %zu hosts\n", site.name, site.source, state,
           site.n_hosts);
    char *copy = xasprintf("%s/site.yaml", state);
    char *known = xasprintf("%s/ssh/known_hosts", state);
    char *dir = xasprintf("%s/ansible", state);
    char *inventory = xasprintf("%s/inventory.yml", dir);
    char *config = xasprintf("%s/ansible.cfg", dir);
    if (!fs_exists(known)) {
        buf_printf(&err, "%s is missing: put every host's SSH host key there (ssh-keyscan, then check each "
                   "fingerprint); deploy trusts no other key", known);
        rc = -1;
    }
    if (rc == 0) {
        char *a = realpath(o->site_file, NULL), *b = realpath(copy, NULL);
        if (!(a && b && strcmp(a, b) == 0))
            rc = fs_copy_file(o->site_file, copy, 0644, &err);
        free(a);
        free(b);
    }
    /* A rotation replaces the file before the run: the hosts get it with
     * their other files, all of them first, then their daemons take it. */
    if (rc == 0 && rotate >= 0) {
        char *file = xasprintf("%s/secrets/%s", state, rotatable[rotate].file);
        if (!fs_exists(file)) {
            buf_printf(&err, "--rotate-secret %s: %s does not exist: the site was never deployed from %s",
                       rotatable[rotate].name, file, state);
            rc = -1;
        }
        if (rc == 0)
            rc = rotatable[rotate].rotate(state, &err);
        if (rc == 0)
            printf("  secret %s rotated: %s is new; every host that holds it gets it, then its daemons take it\n",
                   rotatable[rotate].name, file);
        free(file);
    }
    if (rc == 0)
        rc = control_files_ensure(&site, state, &err);
    if (rc == 0)
        rc = fs_ensure_dir(dir, NULL, NULL, 0755, &err);
    if (rc == 0)
        rc = copy_playbook(state, &err);
    if (rc == 0)
        rc = write_config(state, config, &err);
    if (rc == 0)
        rc = write_inventory(&site, state, inventory, &err);
    char *build_name = NULL, *extra = NULL;
    if (rc == 0 && build)
        rc = deploy_upgrade_stage_build(state, build, &build_name, &err);
    if (rc == 0 && build_name) {
        buf e = BUF_INIT;
        buf_append_str(&e, "{\"emailng_build\":");
        cli_json_string(&e, build_name);
        buf_append_char(&e, '}');
        extra = buf_steal(&e);
    }
    if (rc == 0) {
        printf("  %s: inventory.yml, site.yml, upgrade.yml, roles (directory, store, proxy, relay)\n", dir);
        if (upgrade)
            printf("  rolling upgrade, one host at a time (upgrade.yml); `emailng status` here shows each host's "
                   "step\n");
        rc = run_playbook(state, upgrade ? "upgrade.yml" : "site.yml", extra, &err);
    }
    free(build_name);
    free(extra);
    if (rc != 0)
        cli_fail("deploy", &err);
    free(copy);
    free(known);
    free(dir);
    free(inventory);
    free(config);
    site_free(&site);
    buf_free(&err);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}
