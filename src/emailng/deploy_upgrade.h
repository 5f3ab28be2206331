/* deploy_upgrade: the control host's side of a rolling upgrade
 * (`emailng deploy --upgrade [--build DIR]`, Ansible's upgrade.yml):
 *   - a new build's programs staged for the hosts: DIR's emailng and its
 *     daemons (every executable file named emailng*) copied to
 *     STATE/ansible/builds/NAME, NAME being DIR's name, and packed in
 *     NAME.tar.gz beside it, which the playbook unpacks on each host in
 *     its turn;
 *   - the roll's record, which the playbook writes on the control host
 *     (STATE/ansible/upgrade/run.yml and HOST.yml: the step each host
 *     reached, and for a failed host the task and its message), shown by
 *     `emailng status` on the control host.
 * The record lives on the control host because that is where the roll
 * runs and stops: it is there even when the failed host no longer
 * answers, and it says which hosts the roll never reached. */
#ifndef EMAILNG_DEPLOY_UPGRADE_H
#define EMAILNG_DEPLOY_UPGRADE_H

#include "buf.h"
#include "site.h"

/* Stages DIR's programs in STATE/ansible/builds/NAME (replaced if there);
 * *name receives NAME (caller frees). 0, or -1 with err set (DIR has no
 * emailng, a name that is not a plain file name ...). */
int deploy_upgrade_stage_build(const char *state, const char *dir, char **name, buf *err);

/* 1 if STATE is a control host's state of `emailng deploy`
 * (STATE/ansible/inventory.yml): no daemon of the site runs here. */
int deploy_is_control_state(const char *state);

/* Prints the deployed site's status as the control host knows it: the
 * last rolling upgrade, host by host, as a table or (json) as
 * {"site","deployed":true,"upgrade":{"started","build","hosts":[{"name",
 * "role","step","time","program","failed_task","message"}],"stopped_at"}}.
 * Returns 0, or 1 when the last roll stopped at a failed host or the
 * record cannot be read. */
int deploy_upgrade_status(const struct site *site, const char *state, int json);

#endif
