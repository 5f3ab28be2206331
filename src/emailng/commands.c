/* commands: the command table and the help printed from it; see commands.h. */
#include "commands.h"

#include <string.h>

#include "alt_storage.h"
#include "cmd_backup.h"
#include "cmd_deploy.h"
#include "cmd_dkim.h"
#include "cmd_dns.h"
#include "cmd_list.h"
#include "cmd_import.h"
#include "cmd_fts.h"
#include "cmd_node.h"
#include "cmd_quarantine.h"
#include "cmd_replication.h"
#include "cmd_share.h"
#include "cmd_site.h"
#include "cmd_status.h"
#include "cmd_tls.h"
#include "cmd_trace.h"
#include "cmd_up.h"
#include "cmd_user.h"

/* ---- the commands that load the site before their own module runs ------ */

static int run_up(const struct options *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    return cmd_up(o);
}

static int run_down(const struct options *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    return cmd_down(o);
}

static int run_status(const struct options *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    return cmd_status(o);
}

static int run_check(const struct options *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    return cmd_check(o);
}

static int run_render(const struct options *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    return cmd_render(o);
}

/* node and replication are about a site of several hosts: on the one-host
 * site a listing says so and succeeds, an action fails. */
static int not_applicable(const struct site *site, const char *command, int argc, char **argv,
                          const char *listing)
{
    if (site->n_hosts > 1)
        return -1;
    int is_listing = argc >= 1 && strcmp(argv[0], listing) == 0;
    fprintf(is_listing ? stdout : stderr,
            "emailng: %s: not applicable to a one-host site (site %s has one store and no partner; "
            "see docs/architecture.md for the full topology)\n", command, site->name);
    return is_listing ? EXIT_DONE : EXIT_FAILED;
}

static int run_node(const struct options *o, int argc, char **argv)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = not_applicable(&site, "node", argc, argv, "list");
    if (rc < 0)
        rc = cmd_node(&site, o->state_dir, o->json, argc, argv);
    site_free(&site);
    return rc;
}

static int run_replication(const struct options *o, int argc, char **argv)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = not_applicable(&site, "replication", argc, argv, "status");
    if (rc < 0)
        rc = cmd_replication(&site, o->state_dir, argc, argv);
    site_free(&site);
    return rc;
}

static int run_quarantine(const struct options *o, int argc, char **argv)
{
    struct site site;
    if (cli_load_site(o, &site, 1) != 0)
        return EXIT_FAILED;
    int rc = cli_check_host_option(o, &site) == 0
                 ? cmd_quarantine(&site, o->state_dir, o->host, o->json, argc, argv) : EXIT_USAGE;
    site_free(&site);
    return rc;
}

/* ---- the table ------------------------------------------------------------ */

static const struct subcommand_help user_subcommands[] = {
    {"add", "ADDRESS [--quota SIZE] [--pair PAIR] [--password-stdin]",
     "create a user (in a domain of the site; the password is asked twice, or one line on stdin)"},
    {"move", "ADDRESS PAIR [--abort | --split-shares]",
     "move a user's mailbox and shares to another store pair while the user works (--abort: roll back an "
     "unfinished copy; --split-shares: move even if shares with users of another pair stop working)"},
    {"del", "ADDRESS [--purge]",
     "delete a user: out of every alias, mailbox archived on the stores (--purge: removed)"},
    {"passwd", "ADDRESS [--password-stdin]", "set a user's password"},
    {"quota", "ADDRESS SIZE|default", "set a user's quota (1M to 1024T) or return to the site default"},
    {"show", "ADDRESS", "a user's quota, status, services, store pair and other addresses"},
    {"list", "[--quota [--over PERCENT]] [--json]",
     "every user and its quota; --quota: usage and limit from the stores, fullest first (--over: only those at "
     "or above PERCENT)"},
    {"spam", "ADDRESS [--threshold N|default] [--allow|--deny|--unallow|--undeny SENDER]...",
     "a user's spam settings (no option: show them)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help alias_subcommands[] = {
    {"add", "ALIAS MEMBER [MEMBER...]",
     "create an alias or add members (members of the site's domains must exist; no loops)"},
    {"del", "ALIAS [MEMBER...]", "remove members, or the whole alias"},
    {"list", "[--json]", "every alias and its members"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help list_subcommands[] = {
    {"create", "LIST [--policy open|internal|announce] [--owner ADDRESS]...",
     "create a mailing list (default policy internal: only the site's authenticated users may post)"},
    {"delete", "LIST", "delete a list"},
    {"add", "LIST MEMBER [MEMBER...]", "add members (members of the site's domains must exist; no loops)"},
    {"remove", "LIST MEMBER [MEMBER...]", "remove members (the list stays, even empty)"},
    {"owner", "LIST ADDRESS [ADDRESS...]", "set the owners: they get the bounces and may post to an announce list"},
    {"policy", "LIST open|internal|announce", "who may post: anyone, the site's users, or only the owners"},
    {"show", "[LIST] [--json]", "every list (or one): policy, owners, members"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help quarantine_subcommands[] = {
    {"list", "[--host RELAY] [--json]", "the quarantined messages of every relay (or one)"},
    {"release", "ID [--host RELAY]", "deliver a quarantined message to its recipients"},
    {"delete", "ID [--host RELAY]", "remove a quarantined message"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help node_subcommands[] = {
    {"list", "[--json]", "per proxy: which store serves each pair, every store's state, drained stores"},
    {"drain", "STORE", "take a store out of service: its pair moves to the partner, sessions are moved"},
    {"undrain", "STORE", "give a drained store back (after recovery and the catch-up check)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help replication_subcommands[] = {
    {"status", "[--store ADDR|NAME] [--password-stdin]", "each store's replication queue and failures"},
    {"caught-up", "[--store ADDR --partner ADDR] [--password-stdin]",
     "exit 0 when the partner has synced every user it held back, 1 if not yet"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help tls_subcommands[] = {
    {"renew", "[--force]",
     "the public certificate from tls.source now: changed files installed, ACME renewed when due (--force: "
     "now); the daemons reload, open sessions go on. Several hosts: --host ITSELF on each relay and proxy "
     "(the test fabric: all of them without --host)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help import_subcommands[] = {
    {"run", "LIST [--imap-host HOST] [--imap-port N] [--imap-tls imaps|starttls|none] [--imap-ca FILE] [--final] "
            "[--restart] [--user ADDRESS] [--jobs N]",
     "bring the listed users' mail in (legacy IMAP server or maildir), one-way: only what changed since the "
     "last run moves (--jobs N: N users at once)"},
    {"rollback", "LIST --cutover TIME [--imap-host HOST ...] [--user ADDRESS] [--jobs N]",
     "undo a cut-over: mail received on EmailNG since TIME goes back to the legacy server (or maildir), once"},
    {"status", "", "each imported user's last report (exit 1 if one failed or is over quota)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help dkim_subcommands[] = {
    {"list", "[--domain DOMAIN] [--json]", "each domain's selectors: state (pending, active, retiring) and record"},
    {"rotate", "DOMAIN [--selector NAME]", "make a new key, pending: published by `emailng dns`, not signing yet"},
    {"activate", "DOMAIN", "sign with the pending key once the DNS serves its record; the old one retires"},
    {"retire", "DOMAIN [--force]", "remove retiring selectors older than dkim.retire_after_days (--force: all)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help share_subcommands[] = {
    {"grant", "OWNER FOLDER USER [--rights read|write|LETTERS]",
     "USER sees OWNER's FOLDER as Shared/OWNER/FOLDER (read: lrs, the default; write: lrswipkxte)"},
    {"revoke", "OWNER FOLDER USER", "take USER's access to OWNER's FOLDER away"},
    {"list", "OWNER [FOLDER]", "the ACL of each of OWNER's folders (or one): who has which rights"},
    {"mailbox", "ADDRESS", "make a user a shared mailbox (e.g. office@): mail is delivered, nobody logs in as it"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help public_subcommands[] = {
    {"create", "FOLDER WRITER [WRITER...]", "an announcement folder Public/FOLDER: everyone reads, WRITERs post"},
    {"grant", "FOLDER WRITER", "WRITER may post to Public/FOLDER"},
    {"revoke", "FOLDER WRITER", "WRITER may no longer post to Public/FOLDER"},
    {"list", "[FOLDER]", "the announcement folders and their ACLs"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help storage_subcommands[] = {
    {"altmove", "[--host STORE]",
     "move mail received more than storage.alt_after_days ago to each store's ALT storage (cron runs it daily)"},
    {NULL, NULL, NULL},
};

static const struct subcommand_help fts_subcommands[] = {
    {"rescan", "USER|--all [--host STORE]",
     "drop a user's (or every user's) full-text index on the stores; rebuilt at the next delivery or search"},
    {"reindex", "USER|--all [--host STORE]",
     "rebuild a user's (or every user's) full-text index on the stores now, every folder"},
    {"optimize", "USER|--all [--host STORE]",
     "remove expunged messages from the full-text index and compact it (cron runs it daily)"},
    {NULL, NULL, NULL},
};

const struct command commands[] = {
    {"up", "[--site FILE] [--host NAME]", "render the configuration, start every daemon, create the demo users",
     "Without --site: the site this state directory runs, or the built-in small site.\n"
     "A site of several hosts without --host starts each host in its own network\n"
     "namespace (the test fabric); --host NAME starts only that host, here.\n"
     "Only daemons whose configuration changed (or that are down) are restarted.",
     NULL, 0, run_up},
    {"down", "[--host NAME]", "stop every daemon (and remove the test fabric)", NULL, NULL, 0, run_down},
    {"deploy", "--site FILE [--print-key] [--upgrade [--build DIR]] [--rotate-secret doveadm]",
     "install a site of several hosts on its hosts over SSH (Ansible)",
     "Run on the control host, as root. Makes the CA, every host's certificates and the\n"
     "site's secrets here (the CA key stays here), writes STATE/ansible/ (inventory, site.yml,\n"
     "roles directory, store, proxy, relay) and runs ansible-playbook: each host gets its\n"
     "files and runs `emailng up --host NAME`, in the order directory, stores, proxies,\n"
     "relays. Again: changes nothing, restarts nothing. Trusts only the host keys in\n"
     "STATE/ssh/known_hosts; --print-key prints root's key for the hosts (STATE/ssh).\n"
     "--upgrade: a rolling upgrade (upgrade.yml), one host at a time: drain, packages and\n"
     "emailng (--build DIR: the programs in DIR), `emailng up`, `emailng status`, undrain;\n"
     "the first host that fails stays drained and stops the run (`emailng status` here).\n"
     "--rotate-secret doveadm: a new doveadm secret here, pushed to every host that holds it\n"
     "(stores, proxies, directory); then the stores' Dovecot reloads and the daemons that read\n"
     "it at start restart.",
     NULL, 1, cmd_deploy},
    {"status", "[--json] [--host NAME]", "every service: state, pid, ports, memory, queue; warnings",
     "Exit status 0 when every service is up, 1 when something is down.\n"
     "On the control host of `emailng deploy`: the last rolling upgrade, host by host\n"
     "(exit status 1 when it stopped at a failed host).", NULL, 0, run_status},
    {"check", "--site FILE", "validate a site file (every problem as FILE:LINE:COL)", NULL, NULL, 0, run_check},
    {"render", "--site FILE --out DIR", "write every daemon's configuration to DIR/HOST/COMPONENT",
     NULL, NULL, 0, run_render},
    {"user", NULL, "users: add, delete, passwords, quotas, spam settings", NULL, user_subcommands, 1, cmd_user_run},
    {"alias", NULL, "aliases: addresses that forward to members", NULL, alias_subcommands, 1, cmd_alias_run},
    {"list", NULL, "mailing lists: organisation-wide, project and announce lists",
     "A list adds List-Id, List-Owner and List-Unsubscribe and sends with the envelope sender\n"
     "LIST+owner, so bounces reach the owners. Who may post is checked at RCPT on the border:\n"
     "open (anyone), internal (the site's authenticated users), announce (only the owners).",
     list_subcommands, 1, cmd_list_run},
    {"share", NULL, "shared folders and shared mailboxes (Dovecot ACLs): grant, revoke, list",
     "Owner and user must be on the same store pair. The ACL is set with doveadm acl on\n"
     "every store of the pair; a user's client shows the folder under Shared/OWNER/.",
     share_subcommands, 1, cmd_share_run},
    {"public", NULL, "announcement folders (Public/...): readable by everyone, writable by named users",
     "Several hosts: the folders of the account public-folders@ (made by create, nobody logs in\n"
     "as it), replicated with it; a site of one store pair only.",
     public_subcommands, 1, cmd_public_run},
    {"quarantine", NULL, "the relays' quarantine of viruses and banned files", NULL, quarantine_subcommands, 1,
     run_quarantine},
    {"node", NULL, "a site of several hosts: take a store out of service and back", NULL, node_subcommands, 1,
     run_node},
    {"replication", NULL, "a site of several hosts: the store pairs' replication", NULL, replication_subcommands, 1,
     run_replication},
    {"trace", "QUERY [--since TIME] [--until TIME] [--logs DIR] [--json] [--host NAME]",
     "a message's way through every host, from the logs (Message-ID, queue id, sender or recipient)",
     "One timeline per message: accepted, refused (with the reply), policy decisions, scanned\n"
     "(score, virus), handed to the filter or the next host (queued as ID), deferred or bounced\n"
     "(with the reason), delivered (store and folder), discarded as a duplicate.\n"
     "TIME: YYYY-MM-DD[ HH:MM[:SS]] (local time) or 30m, 2h, 1d before now. The logs are\n"
     "STATE/log/HOST/*.log, or DIR/HOST/*.log with --logs DIR (logs collected from real hosts).\n"
     "Exit status 0 when something matched, 1 \"no trace of QUERY\", 2 usage error.",
     NULL, 1, cmd_trace},
    {"dns", "[check] [--domain DOMAIN] [--json]", "the DNS records the domains need; `dns check` looks them up",
     "Without `check`: every record to publish for each domain of the site (or DOMAIN),\n"
     "as zone-file lines with a comment each, the MTA-STS policy file and the PTR\n"
     "records the address owner must set. With `check`: each record looked up through\n"
     "the system resolver, reported ok, missing, wrong (with what was found) or error;\n"
     "exit status 0 when every record is right, 1 otherwise.",
     NULL, 1, cmd_dns_run},
    {"dkim", NULL, "DKIM keys of the domains: list, and a safe rotation (rotate, activate, retire)",
     "Keys are made by `emailng up` (RSA 2048, one per domain) in STATE/secrets/dkim.\n"
     "Rotation: `rotate` makes a pending key whose record `emailng dns` prints; `activate`\n"
     "checks through the system resolver that the DNS serves it, then every relay signs with\n"
     "it; the old key stays published (retiring) until `retire`.",
     dkim_subcommands, 1, cmd_dkim_run},
    {"tls", NULL, "the public certificate (tls.source files or acme): install or renew it, reload", NULL,
     tls_subcommands, 1, cmd_tls_run},
    {"storage", NULL, "the stores' ALT storage for old mail (storage.alt_path)",
     "Each store moves its own copy (ALT does not replicate) with doveadm altmove; a store\n"
     "whose ALT file system is missing (not mounted) is refused, and `status` warns.",
     storage_subcommands, 1, cmd_storage_run},
    {"backup", "[--user ADDRESS] | --list",
     "mail (doveadm backup), directory (slapcat) and secrets into a new generation of backup.path",
     "Each run makes a generation (a folder named by its UTC start time) in the site file's\n"
     "backup.path (default STATE/backup): every user's mail as an mdbox of its own, started\n"
     "from the previous generation so dsync moves only what changed, the Sieve scripts, the\n"
     "directory as LDIF and the site's secrets (root only). Mail arriving meanwhile is in it\n"
     "or in the next one. A run for every user keeps backup.keep generations; --user ADDRESS\n"
     "saves one user. --list: the generations.",
     NULL, 1, cmd_backup_run},
    {"restore", "--user ADDRESS [--folder NAME] [--generation G] [--into FOLDER | --replace [--force]] | "
     "--directory [--generation G] [--force]",
     "a user's mail or one folder, under \"Restored/G\" or in place of a lost mailbox; or the directory",
     "--user: the user's mail (or --folder NAME and its subfolders) from generation G (default:\n"
     "the newest holding the user) is imported under FOLDER (default \"Restored/G\", subscribed);\n"
     "nothing the user has now is touched. --replace: the whole mailbox becomes what the\n"
     "backup holds (folders, flags, UIDs, subscriptions, Sieve scripts), for a deleted user\n"
     "added again; refused while the mailbox holds mail unless --force.\n"
     "--directory: slapd stopped, the generation's LDIF loaded with slapadd, slapd started;\n"
     "refused while the directory has users unless --force (the old database is kept aside).",
     NULL, 1, cmd_restore_run},
    {"import", NULL, "migration: users' mail from a legacy IMAP server or maildir trees (doveadm sync -1)",
     "LIST: one user a line, `ADDRESS imap LOGIN PASSWORD_FILE` or `ADDRESS maildir PATH\n"
     "[maildir++|fs]` (PASSWORD_FILE: root's, mode 0600 or 0400). Every run is a one-way\n"
     "sync from the last run's state: new mail, flag changes and deletions on the source move;\n"
     "changes made on EmailNG stay. --final after the cut-over (needs an earlier run). An\n"
     "interrupted pass is resumed by the next run (--restart: a new pass). `rollback --cutover\n"
     "TIME` copies mail received on EmailNG since the cut-over back to the source. State and reports:\n"
     "STATE/import. See docs/admin-manual.md, section Migration.",
     import_subcommands, 1, cmd_import_run},
    {"fts", NULL, "the stores' full-text search indexes (IMAP SEARCH): rescan, reindex, optimize",
     "Indexes are per store: each runs on every store whose configuration is on this\n"
     "machine (the test fabric: all of them), or only on --host STORE; for USER, on the\n"
     "stores that hold the user's mailbox. Exit 1 if a store failed or none holds USER.",
     fts_subcommands, 1, cmd_fts_run},
    {"help", "[COMMAND [SUBCOMMAND]]", "this text, or one command's", NULL, NULL, 1, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

const struct command *command_find(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const struct subcommand_help *command_find_subcommand(const struct command *c, const char *name)
{
    for (const struct subcommand_help *s = c && c->subcommands ? c->subcommands : NULL; s && s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static void print_subcommand_line(FILE *f, const struct command *c, const struct subcommand_help *s)
{
    fprintf(f, "  emailng %s %s%s%s\n", c->name, s->name, s->usage[0] ? " " : "", s->usage);
}

void commands_print_usage(FILE *f)
{
    fputs("usage: emailng [--state DIR] COMMAND [ARGS]\n"
          "       emailng COMMAND [SUBCOMMAND] --help   emailng help [COMMAND]   emailng --version\n\n", f);
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fputs("\nThe state directory is " DEFAULT_STATE " unless --state or EMAILNG_STATE says otherwise.\n"
          "Exit status: 0 done, 1 failed, 2 usage error. See emailng(8) and docs/admin-manual.md.\n", f);
}

void command_print_help(FILE *f, const struct command *c, const struct subcommand_help *sub)
{
    if (sub) {
        fprintf(f, "usage: emailng %s %s%s%s\n  %s\n", c->name, sub->name, sub->usage[0] ? " " : "", sub->usage,
                sub->summary);
        return;
    }
    if (c->subcommands) {
        fprintf(f, "emailng %s: %s\nusage:\n", c->name, c->summary);
        for (const struct subcommand_help *s = c->subcommands; s->name; s++) {
            print_subcommand_line(f, c, s);
            fprintf(f, "      %s\n", s->summary);
        }
    } else {
        fprintf(f, "usage: emailng %s%s%s\n  %s\n", c->name, c->usage[0] ? " " : "", c->usage, c->summary);
    }
    if (c->details)
        fprintf(f, "\n%s\n", c->details);
}

void commands_print_words(FILE *f)
{
    for (const struct command *c = commands; c->name; c++) {
        fputs(c->name, f);
        for (const struct subcommand_help *s = c->subcommands; s && s->name; s++)
            fprintf(f, " %s", s->name);
        fputc('\n', f);
    }
}
