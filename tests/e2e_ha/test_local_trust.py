"""Local trust on the full topology (issue 10): no log and no exported table
of any host (the relays' recipient and sender tables and their LMDB
databases, the policy tables) is readable by every local user."""

import os
import stat


def test_no_log_or_table_world_readable(ha):
    readable, tables = [], 0
    for top in ("log", "data"):
        for root, dirs, files in os.walk(os.path.join(ha.state, top)):
            # The test fabric's own DNS server (the "internet", docs/fabric.md)
            # is no part of a site and logs no user data.
            if top == "log" and root == os.path.join(ha.state, "log"):
                dirs[:] = [d for d in dirs if d != "fabric-dns"]
            for name in files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                rel = os.path.relpath(path, ha.state)
                is_table = name.startswith(("relay-recipients", "sender-logins")) or rel.endswith("policyd/table")
                tables += is_table
                if stat.S_ISREG(st.st_mode) and (top == "log" or is_table) and st.st_mode & stat.S_IROTH:
                    readable.append("%s %o" % (rel, stat.S_IMODE(st.st_mode)))
    assert tables >= 6, "expected every relay's tables under %s/data" % ha.state
    assert readable == [], "world-readable logs/tables: %s" % readable
