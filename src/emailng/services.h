/* services: the daemons a host runs, and how emailng prepares, starts,
 * checks and stops each one with its own configuration and state (no init
 * system). One table entry per daemon; the order is the start order. */
#ifndef EMAILNG_SERVICES_H
#define EMAILNG_SERVICES_H

#include <sys/types.h>

#include "buf.h"
#include "render.h"
#include "site.h"

struct service_env {
    const struct site *site;
    const struct site_host *host;
    const char *state_dir;
    struct render_context ctx;     /* paths and ports of this host */
};

/* The public TCP ports a service opens on a host of one kind (exactly
 * these roles, host_kind.h): placeholder names, NULL-terminated. */
struct service_ports {
    unsigned roles;
    const char *const *ports;
};

struct service {
    const char *name;              /* slapd, dovecot, postfix */
    unsigned roles;                /* run on hosts with any of these roles */
    int (*prepare)(const struct service_env *env, buf *err);
    int (*start)(const struct service_env *env, buf *err);
    int (*ready)(const struct service_env *env, buf *detail);  /* 0 when it answers */
    pid_t (*pid)(const struct service_env *env);
    int (*stop)(const struct service_env *env, buf *err);
    /* Public TCP ports on the one-host site (placeholder names,
     * NULL-terminated), and on the kinds of host where they differ (a
     * list ending with a NULL ports). */
    const char *const *ports;
    const struct service_ports *ports_by_kind;
    /* What it serves besides TCP ports, for status ("ldapi"), or NULL. */
    const char *local_endpoint;
    /* NULL, or 0 when the site does not want it (e.g. filter.enabled false). */
    int (*wanted)(const struct service_env *env);
    /* Its folder under templates/ (and STATE/etc/HOST/); NULL: the name. */
    const char *component;
    /* 1 if it reads the site's certificates at start: a renewed one takes
     * effect when `up` restarts it. */
    int uses_certificates;
    /* NULL, or how it takes a new public certificate (tls.source files
     * or acme) without a restart: open sessions go on (postfix reload,
     * Dovecot's SIGHUP). */
    int (*reload)(const struct service_env *env, buf *err);
    /* NULL, or what `up` does once it answers (started now or already up). */
    int (*after_start)(const struct service_env *env, buf *err);
    /* NULL, or figures `status` shows: messages queued, addresses banned. */
    long (*queue_size)(const struct service_env *env);
    long (*banned)(const struct service_env *env);
};

/* The component (configuration folder) of a service. */
const char *service_component(const struct service *svc);

extern const struct service services[];
extern const size_t n_services;

/* 1 if the service runs on the env's host: its roles and the site's settings. */
int service_wanted(const struct service *svc, const struct service_env *env);

/* The pid of svc if it still runs on this host although the site no longer
 * wants it (e.g. dmarc.mode changed to off since it started), else 0. An
 * entry whose pid is also a wanted entry's (the relay's auth Dovecot and
 * the store's Dovecot on one host) is never unwanted. */
pid_t service_unwanted_pid(const struct service *svc, const struct service_env *env);

int service_env_init(struct service_env *env, const struct site *site,
                     const struct site_host *host, const char *state_dir, buf *err);
void service_env_free(struct service_env *env);

/* A port number from the env (by placeholder name, e.g. "port_smtp"). */
int service_port(const struct service_env *env, const char *name);

/* Helpers every service entry uses. */
const char *service_var(const struct service_env *env, const char *name);   /* "" if unset */
char *service_path(const struct service_env *env, const char *dir_var, const char *rest);  /* caller frees */
pid_t service_pidfile(const struct service_env *env, const char *dir_var, const char *rest);
/* Runs a command; on failure err gets its exit status and output. */
int service_run(const char *const argv[], buf *err);
/* SIGTERM, then SIGKILL after 20 s; 0 once gone (pid 0: nothing to do). */
int service_stop_pid(pid_t pid, const char *name, buf *err);

/* The public TCP ports the service opens on the env's host (placeholder
 * names, NULL-terminated): svc->ports, or fewer for a per-role variant. */
const char *const *service_ports(const struct service *svc, const struct service_env *env);

/* 0 for a port the site switched off (Dovecot's metrics port with
 * metrics.enabled false), else 1: `status` and the port check skip it. */
int service_port_open(const struct service_env *env, const char *name);

/* Checks that no foreign process holds one of the service's ports; if one
 * does, err says which and what to do. */
int service_check_ports(const struct service *svc, const struct service_env *env, buf *err);

/* Number of messages in a Postfix queue (-1 if there is no queue). */
long postfix_queue_size(const struct service_env *env);

#endif
