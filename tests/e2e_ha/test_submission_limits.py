"""Password guessing at the relays' submission (X2, issue 4).

The proxies check submission passwords for the relays, so they see the
relay's address, never the client's. The limit per client address is
therefore the relay's own: Postfix allows 10 AUTH commands per client
address and minute (smtpd_client_auth_rate_limit), and the proxies keep no
penalty against a relay's address (their Dovecot auth penalty is off).

The test plays two clients on the internet with addresses of their own
(198.18.0.101 guesses, 198.18.0.102 is an ordinary user), added to the
client namespace for the test and removed afterwards, so the anvil counts
never touch the other tests' client address (198.18.0.100).
"""

import base64
import smtplib
import ssl
import subprocess
import threading
import time

import pytest

from conftest import HOSTS, TLS_NAME

GUESSER = "198.18.0.101"
USER_ADDRESS = "198.18.0.102"
AUTH_LIMIT = 10                 # smtpd_client_auth_rate_limit of templates/postfix-relay/main.cf
USER = "alice@example.test"


@pytest.fixture
def client_addresses(ha):
    """GUESSER and USER_ADDRESS on the client namespace's interface, for this test only."""
    ns = ["ip", "netns", "exec", "%s-client" % ha.prefix]
    added = []
    try:
        for address in (GUESSER, USER_ADDRESS):
            cp = subprocess.run(ns + ["ip", "addr", "add", address + "/24", "dev", "eth0"],
                                capture_output=True, text=True, timeout=30)
            assert cp.returncode == 0, cp.stderr
            added.append(address)
        yield
    finally:
        for address in added:
            subprocess.run(ns + ["ip", "addr", "del", address + "/24", "dev", "eth0"],
                           capture_output=True, text=True, timeout=30)


def _auth_once(site, source, password):
    """One connection from source to relay1:587, STARTTLS, exactly one AUTH PLAIN: (code, text, seconds)."""
    started = time.time()
    with smtplib.SMTP(HOSTS["relay1"], 587, local_hostname="laptop.outside.test", timeout=60,
                      source_address=(source, 0)) as s:
        s.ehlo()
        s._host = TLS_NAME
        s.starttls(context=ssl.create_default_context(cafile=site.ca))
        s.ehlo()
        token = base64.b64encode(b"\0" + USER.encode() + b"\0" + password.encode()).decode()
        code, text = s.docmd("AUTH", "PLAIN " + token)
        return code, text.decode(errors="replace"), time.time() - started


def test_auth_guessing_is_limited_per_client_address_at_the_relay(ha, client_addresses):
    since = len(ha.log("relay1", "postfix.log"))
    # The guesser uses its whole allowance at once, in parallel connections.
    answers = [None] * AUTH_LIMIT

    def guess(i):
        answers[i] = _auth_once(ha, GUESSER, "guess-%d" % i)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(AUTH_LIMIT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a[0] for a in answers] == [535] * AUTH_LIMIT, answers
    # One more AUTH from that address is refused before any password check,
    # even with the right password.
    code, text, _ = _auth_once(ha, GUESSER, ha.password(USER))
    assert code == 450 and "too many AUTH commands from %s" % GUESSER in text, (code, text)
    assert "AUTH command rate limit exceeded" in ha.log("relay1", "postfix.log")[since:]
    # Another client of the same relay logs in at once: neither the relay
    # (its Dovecot penalizes the guesser's address, not the relay's) nor
    # the proxies (which saw all those failures from relay1) hold it back.
    code, text, seconds = _auth_once(ha, USER_ADDRESS, ha.password(USER))
    assert code == 235, (code, text)
    assert seconds < 2.0, seconds
