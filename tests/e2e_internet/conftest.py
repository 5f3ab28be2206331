"""Fixtures of the internet tests (issue 11). The world they run in (the
fabric, the outside world EmailNG does not configure, EmailNG's host) is
made by world.py; see there and docs/fabric.md."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from world import DOMAIN, make_message, start_world  # noqa: E402,F401


@pytest.fixture(scope="session")
def world():
    if os.geteuid() != 0:
        pytest.fail("the internet tests need root (they create network namespaces)")
    with start_world() as w:
        yield w
