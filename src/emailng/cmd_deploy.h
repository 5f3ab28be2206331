/* cmd_deploy: `emailng deploy --site FILE`, a site of several hosts
 * installed on real hosts over SSH with Ansible (issue 12). On the control
 * host it makes what is made once per site (the CA and every host's
 * certificates, the DKIM keys, the doveadm, SRS, probe and webmail
 * secrets; STATE/ssh/id_ed25519, root's SSH key), writes STATE/ansible/
 * (ansible.cfg, inventory.yml from the site file, site.yml and the roles
 * directory, store, proxy, relay from DATADIR/ansible) and runs
 * ansible-playbook, which pushes each host its files and runs `emailng up
 * --host NAME` there in dependency order. `deploy --print-key` prints the
 * public key to install on the hosts (made on first use). The CA key never
 * leaves the control host. */
#ifndef EMAILNG_CMD_DEPLOY_H
#define EMAILNG_CMD_DEPLOY_H

#include "cli.h"

int cmd_deploy(const struct options *o, int argc, char **argv);

#endif
