"""Fixtures for the Locust checks: the e2e suite's own (tests/e2e/conftest.py, loaded by
harness.py), so the server is started, logged and stopped exactly as there.

Run:  MILLIONWS_BIN=build/release/millionws /usr/bin/python3 -m pytest -q locust/tests
(`just locust-check` does that and the manifest checks). Without a binary every test that
needs the server fails (never skipped).
"""

import harness

# Hooks: --binary/--load-binary options, the descriptor limit, server logs on failure.
pytest_addoption = harness.e2e.pytest_addoption
pytest_configure = harness.e2e.pytest_configure
pytest_runtest_makereport = harness.e2e.pytest_runtest_makereport

# Fixtures.
binary = harness.e2e.binary
load_binary = harness.e2e.load_binary
logdir = harness.e2e.logdir
admin_server = harness.e2e.admin_server
server_factory = harness.e2e.server_factory
