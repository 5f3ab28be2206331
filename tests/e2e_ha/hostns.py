"""Run things inside a host of the test fabric (its network namespace).

The pytest process sits in the client namespace; `ip netns exec` switches
by path, so it reaches any host's namespace PREFIX-HOST from there.
"""

import subprocess
import sys

# A TCP connect with a timeout, run inside a namespace: prints "open",
# "refused" (nothing listens, nothing filtered) or "timeout" (dropped).
_CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error %s" % e.errno)
"""


def run(site, host, *argv, check=True, input=None, timeout=60):
    cp = subprocess.run(["ip", "netns", "exec", "%s-%s" % (site.prefix, host), *argv], input=input,
                        capture_output=True, text=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError("%s in %s failed (%d):\n%s%s" % (" ".join(argv), host, cp.returncode,
                                                             cp.stdout, cp.stderr))
    return cp


def connect(site, host, address, port, timeout=2.0):
    """What a TCP connect from host to address:port gives: open, refused, timeout."""
    return run(site, host, sys.executable, "-c", _CONNECT, address, str(port), str(timeout)).stdout.strip()
