/* directory_setup: what `emailng up` does once the directory host's slapd
 * answers (the after_start step of slapd in the services table): the base
 * entries (ou=users, ou=aliases), the demo users of the site file
 * (passwords printed once and kept in STATE/secrets/demo-passwords, root
 * only), the health monitor's probe account, and the relays' copies of
 * the directory (directory_export.h). Idempotent. */
#ifndef EMAILNG_DIRECTORY_SETUP_H
#define EMAILNG_DIRECTORY_SETUP_H

#include "buf.h"
#include "services.h"

int directory_setup(const struct service_env *env, buf *err);

#endif
