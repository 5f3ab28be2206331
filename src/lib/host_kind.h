/* host_kind: the one role table. Every host of a site is one of five
 * kinds: the one-host site (every role on one host, A5), or a host of a
 * site of several hosts with exactly one role (A1; site.c refuses other
 * mixes). A kind says which configuration folders the host gets and from
 * which template each is rendered (templates/TEMPLATE ->
 * STATE/etc/HOST/COMPONENT); whether it has a firewall of ours or a
 * resolver follows from those folders. The daemons a kind runs, and the
 * ports each opens there, are in the services table (services.c), keyed
 * by the same roles. */
#ifndef EMAILNG_HOST_KIND_H
#define EMAILNG_HOST_KIND_H

#define HOST_KIND_MAX_COMPONENTS 16

struct host_kind {
    const char *name;               /* "one-host site", "relay", ... */
    unsigned roles;                 /* exactly these ROLE_* bits */
    /* NULL-terminated; templates[i] renders components[i]. */
    const char *components[HOST_KIND_MAX_COMPONENTS];
    const char *templates[HOST_KIND_MAX_COMPONENTS];
};

/* The kind of a host with these roles, or NULL (not a valid host). */
const struct host_kind *host_kind_of(unsigned roles);

/* 1 if the kind renders the component (e.g. "nftables", "unbound"). */
int host_kind_has(const struct host_kind *kind, const char *component);

#endif
