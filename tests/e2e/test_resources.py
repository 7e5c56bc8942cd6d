"""What a connection costs the process in threads and descriptors, and how the server
behaves when descriptors run out: prompt refusals, no busy loop, other clients unharmed."""

import os
import resource
import subprocess
import time

import pytest

import wsraw
from conftest import Server


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_threads_and_descriptors_do_not_grow_per_connection(server_factory):
    s = server_factory()  # conftest starts it with --threads 2
    idle_threads, idle_fds = threads(s.pid), fds(s.pid)
    assert idle_threads == 2 + 1  # two reactors and main: no admin listener here
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(300)]
    try:
        for c in clients[::50]:
            c.echo(0x2, b"ping")
        assert threads(s.pid) == idle_threads
        assert fds(s.pid) == idle_fds + 300
    finally:
        for c in clients:
            c.close_socket()
    deadline = time.monotonic() + 10
    while fds(s.pid) != idle_fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fds(s.pid) == idle_fds


@pytest.fixture
def fd_starved_server(binary, logdir):
    """A server whose descriptor limit (soft and hard) is 64."""
    s = Server(binary, ["--max-connections", "1000"], logdir)  # past what 64 fds allow
    real_popen = subprocess.Popen

    def limited(*args, **kwargs):
        kwargs["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        return real_popen(*args, **kwargs)

    subprocess.Popen = limited
    try:
        s.start()
    finally:
        subprocess.Popen = real_popen
    yield s
    assert s.stop() == 0
    assert s.sanitizer_report() is None


def test_out_of_descriptors_refuses_without_spinning(fd_starved_server):
    s = fd_starved_server
    held, refused = [], 0
    try:
        for _ in range(90):
            t0 = time.monotonic()
            try:
                held.append(wsraw.open_ws(s.host, s.port, timeout=5))
            except (AssertionError, OSError, wsraw.ConnectionClosed):
                refused += 1
                # Refused at once (closed), not left waiting in the backlog.
                assert time.monotonic() - t0 < 2.0
        assert refused > 0, "64 descriptors cannot hold 90 connections"
        # 64 minus stdio, two reactors' epoll/listener/reserve, the eventfd and a margin.
        assert len(held) >= 20
        # Connections keep arriving while descriptors are exhausted: the server refuses them
        # promptly and does not burn CPU in an accept loop.
        before = cpu_seconds(s.pid)
        for _ in range(50):
            try:
                wsraw.open_ws(s.host, s.port, timeout=1).close_socket()
            except (AssertionError, OSError, wsraw.ConnectionClosed):
                pass
        time.sleep(1.0)
        assert cpu_seconds(s.pid) - before < 0.5
        # The connections already held still echo.
        for c in held[:10]:
            c.echo(0x1, b"still here")
        assert "refusing connections" in s.log_text()
    finally:
        for c in held:
            c.close_socket()
    # Once descriptors are free again, new clients are served.
    deadline = time.monotonic() + 10
    while True:
        try:
            with wsraw.open_ws(s.host, s.port, timeout=2) as c:
                c.echo(0x1, b"back")
            break
        except (AssertionError, OSError, wsraw.ConnectionClosed):
            assert time.monotonic() < deadline
            time.sleep(0.2)
