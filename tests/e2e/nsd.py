"""An authoritative DNS server for the small-site tests: Debian's nsd on
ADDRESS:53 in the current network namespace, serving zones the test
writes, with a resolv.conf that names it (for policy.spf.resolv_conf, or
bind-mounted over /etc/resolv.conf). Used by test_policy (SPF), test_dmarc
and test_dkim."""

import os
import signal
import subprocess
import time


class Nsd:
    def __init__(self, root, address, attempts=1):
        self.root, self.address = root, address
        self.conf = os.path.join(root, "nsd.conf")
        self.resolv = os.path.join(root, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:%d\n" % (address, attempts))
        os.chmod(self.resolv, 0o644)

    def serve(self, zones):
        """(Re)starts nsd with ZONES ({name: zone-file lines, relative to the
        zone or absolute}) under an SOA and NS of its own."""
        self.stop()
        conf = ['server:', '  ip-address: %s' % self.address, '  port: 53', '  username: ""',
                '  zonesdir: "%s"' % self.root, '  database: ""', '  pidfile: "%s/nsd.pid"' % self.root,
                '  xfrdfile: "%s/xfrd.state"' % self.root, '  zonelistfile: "%s/zone.list"' % self.root,
                '  logfile: "%s/nsd.log"' % self.root, '  server-count: 1', '  verbosity: 1',
                'remote-control:', '  control-enable: no']
        for name, records in zones.items():
            with open(os.path.join(self.root, name + ".zone"), "w") as f:
                f.write("$ORIGIN %s.\n$TTL 5\n@ IN SOA ns.%s. hostmaster.%s. %d 3600 600 86400 5\n"
                        "@ IN NS ns.%s.\nns IN A %s\n%s\n"
                        % (name, name, name, int(time.time()), name, self.address, records))
            conf += ["zone:", "  name: %s" % name, "  zonefile: %s.zone" % name]
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        r = subprocess.run(["nsd", "-c", self.conf], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for _ in range(50):
            if os.path.exists(os.path.join(self.root, "nsd.pid")):
                break
            time.sleep(0.1)
        time.sleep(0.3)

    def stop(self):
        pidfile = os.path.join(self.root, "nsd.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
        try:
            os.unlink(pidfile)
        except OSError:
            pass
