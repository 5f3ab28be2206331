"""Fixtures of the deployment tests (issue 12; docs/fabric.md "Separate hosts").

`deployed` (one per session; deploysite.py makes it, bench/deploy uses the
same): examples/ha-site.yaml with two changes (the
content filter off, which the mail-flow checks here do not need and which
costs a minute per deploy on a loaded machine; admin_hosts = the control
host, so that each host's firewall lets Ansible's SSH in), seven separate
hosts made by scripts/hosts.sh (own /etc, /var/lib/emailng, /run ...,
sshd with its own host key) plus the network-only "control" (where
`emailng deploy` and Ansible run), "client" (the internet and the users)
and "dns" (fabric.dns; nsd runs there only while test_ha_checks.py and the
roll under load of test_upgrade.py do). The site has no per-user or
per-client send limits (policy.limits user and client msgs_per_hour and
rcpts_per_day 0, deploysite.NO_SEND_LIMITS, as bench/deploy's site): the
roll's submission load sends about 400 messages in 4 minutes, far above
S5's 100 an hour; tests/e2e_ha/test_submission_limits.py checks the
limits on the one-machine fabric. The control host's key is made by
`emailng deploy --print-key` and is the only one the hosts accept; the hosts' keys go to the control
state's ssh/known_hosts. Then `emailng deploy` runs once from the control
host; the tests look at its result. At the end `hosts.sh down` removes
everything (every process of every host, by namespace).

Environment: EMAILNG (binary), EMAILNG_DATADIR (templates, ansible/),
EMAILNG_E2E_KEEP=1 (keep the folder: control state, hosts' files, logs),
EMAILNG_DEPLOY_PREFIX (the hosts' namespace prefix, default dpd: another
one lets a second run go on beside this one).
"""

import importlib.util
import os
import sys

import pytest

# What the tests import from here (conftest's names since before deploysite.py).
from deploysite import CONTROL, DATADIR, EMAILNG, HOST_STATE, HOSTS, ROLES, in_netns, recap  # noqa: F401
from deploysite import NO_SEND_LIMITS, bring_up, tear_down, write_site_file
from hosts import REPO

# tests/e2e_ha's checks run here too (test_ha_checks.py): their modules and
# helpers import `conftest`, which is this module here, so it offers the
# names they take from theirs (as tests/e2e_pairs/conftest.py does).
HA_DIR = os.path.join(REPO, "tests", "e2e_ha")
_spec = importlib.util.spec_from_file_location("e2e_ha_conftest", os.path.join(HA_DIR, "conftest.py"))
ha_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ha_conftest)
sys.path.append(HA_DIR)          # after this folder: a name of ours is never shadowed
DOMAIN = ha_conftest.DOMAIN
TLS_NAME = ha_conftest.TLS_NAME
resolve = ha_conftest.resolve
status = ha_conftest.status

PREFIX = os.environ.get("EMAILNG_DEPLOY_PREFIX", "dpd")   # another prefix: a second run beside this one


def _site_file(path):
    write_site_file(path, filter_enabled=False, extra=NO_SEND_LIMITS)


@pytest.fixture(scope="session")
def deployed():
    if os.geteuid() != 0:
        pytest.fail("the deployment tests must run as root (namespaces, sshd)")
    d = bring_up(PREFIX, site_extra=NO_SEND_LIMITS)
    try:
        d.deploy()
        yield d
    finally:
        tear_down(d, keep=os.environ.get("EMAILNG_E2E_KEEP") == "1")
