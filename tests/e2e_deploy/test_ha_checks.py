"""tests/e2e_ha's full-topology mail checks against the deployed site
(issue 12: the same checks, a different way to build the site).

The test functions below are tests/e2e_ha's own, imported unchanged, so
pytest collects them again here with `ha` = the hosts `emailng deploy`
installed over SSH (deployed_site.DeployedSite: each host's own file
system, its own `emailng`). This module's process sits in the fabric's
"client" namespace meanwhile (the internet and the users, as in e2e_ha),
and the fabric's DNS (nsd, authoritative for example.test) runs, so that
senders follow the MX records and clients find mail.example.test.

Chosen, one or more per role:
  - mail by MX (relay1) to store1, read over IMAP through both proxies;
  - IMAP, POP3 and ManageSieve through each proxy to the verified store;
  - submission with SASL at each relay (checked by the proxies' auth), and
    a wrong password refused;
  - replication between the stores, both ways;
  - a host killed (kill -9 of every process of it, sshd included) and
    brought back: store1 (users served by store2 within 10 s, mail
    meanwhile delivered, store1 catches up and takes pair1 back); relay1
    with mail in its queue (the MX falls back to relay2, relay1's queue is
    delivered once it is back); proxy1 (IMAP, the stores' LMTP and the
    relays' SASL go through proxy2).

Left out, and why:
  - the content filter's checks (test_filter.py, EICAR/GTUBE): the deployed
    site has the filter off (conftest.py);
  - those that change the site from this machine's `emailng` with the
    shared state (users added with `emailng user add`: the deployment
    tests do users through the directory host, test_users.py; `emailng up`
    with a changed site file: test_deploy.py's redeploys);
  - those that read files only the e2e_ha fixture makes (its signatures,
    ALT storage, webmail) or assert on the e2e_ha status document's fabric
    part (test_every_host_and_service_up);
  - the other failure checks (dir1 killed, relays cut off from the inside
    for 60 s): the kills above already take a host away and bring it back
    the way a boot does; each more costs a minute or more of the
    e2e-deploy suite's budget.
"""

import pytest

from conftest import PREFIX, in_netns
from deployed_site import DeployedSite, start_dns, stop_dns

from test_mail_flow import test_mail_via_mx_lands_on_store1_read_through_both_proxies  # noqa: F401
from test_store_tls import test_imap_pop3_managesieve_through_proxy_with_verified_store  # noqa: F401
from test_submission import (test_submission_through_each_relay_is_delivered,  # noqa: F401
                             test_wrong_password_refused_at_the_relay)
from test_replication import test_delivery_replicates_both_ways  # noqa: F401
from test_failures import (test_proxy1_killed_clients_lmtp_and_sasl_go_through_proxy2,  # noqa: F401
                           test_relay1_killed_mx_falls_back_to_relay2_and_its_queue_is_delivered_later,
                           test_store1_killed_users_move_to_store2_within_10_s_and_come_back)


@pytest.fixture(scope="module")
def ha(deployed):
    nsd = start_dns(deployed)
    try:
        with in_netns(PREFIX + "-client"):
            yield DeployedSite(deployed)
    finally:
        stop_dns(nsd)
