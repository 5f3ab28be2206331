"""Fixtures of the deployment tests (issue 12; docs/fabric.md "Separate hosts").

`deployed` (one per session; deploysite.py makes it, bench/deploy uses the
same): examples/ha-site.yaml with two changes (the
content filter off, which the mail-flow checks here do not need and which
costs a minute per deploy on a loaded machine; admin_hosts = the control
host, so that each host's firewall lets Ansible's SSH in), seven separate
hosts made by scripts/hosts.sh (own /etc, /var/lib/emailng, /run ...,
sshd with its own host key) plus the network-only "control" (where
`emailng deploy` and Ansible run) and "client" (the internet and the
users). The control host's key is made by `emailng deploy --print-key` and
is the only one the hosts accept; the hosts' keys go to the control
state's ssh/known_hosts. Then `emailng deploy` runs once from the control
host; the tests look at its result. At the end `hosts.sh down` removes
everything (every process of every host, by namespace).

Environment: EMAILNG (binary), EMAILNG_DATADIR (templates, ansible/),
EMAILNG_E2E_KEEP=1 (keep the folder: control state, hosts' files, logs),
EMAILNG_DEPLOY_PREFIX (the hosts' namespace prefix, default dpd: another
one lets a second run go on beside this one).
"""

import os

import pytest

# What the tests import from here (conftest's names since before deploysite.py).
from deploysite import CONTROL, DATADIR, EMAILNG, HOSTS, ROLES, in_netns, recap  # noqa: F401
from deploysite import bring_up, tear_down, write_site_file

PREFIX = os.environ.get("EMAILNG_DEPLOY_PREFIX", "dpd")   # another prefix: a second run beside this one


def _site_file(path):
    write_site_file(path, filter_enabled=False)


@pytest.fixture(scope="session")
def deployed():
    if os.geteuid() != 0:
        pytest.fail("the deployment tests must run as root (namespaces, sshd)")
    d = bring_up(PREFIX)
    try:
        d.deploy()
        yield d
    finally:
        tear_down(d, keep=os.environ.get("EMAILNG_E2E_KEEP") == "1")
