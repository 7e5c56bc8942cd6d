"""Graceful shutdown on SIGTERM: close 1001 to every client, /health 503
while draining, exit code 0 within the drain timeout."""

import signal
import time

import pytest

import wsraw
from wsraw import OP_BINARY, OP_TEXT


@pytest.mark.timeout(60)
def test_sigterm_closes_clients_with_1001_and_exits_0(server_factory):
    drain = 8.0
    s = server_factory("--drain-timeout", "8s")
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(20)]
    try:
        for i, ws in enumerate(clients):
            ws.echo(OP_TEXT, "client %d" % i)
        # a few clients are in the middle of a fragmented message
        for ws in clients[:5]:
            ws.send(wsraw.binary(b"partial", fin=False) + wsraw.ping(b"after partial"))
            # the pong proves the server has read the fragment before the signal (a server
            # that streams its echo may send the fragment back first)
            f = ws.recv_frame(timeout=5)
            while f.opcode == OP_BINARY and not f.fin:
                f = ws.recv_frame(timeout=5)
            assert (f.opcode, f.payload) == (wsraw.OP_PONG, b"after partial"), f
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        for i, ws in enumerate(clients):
            f = ws.expect_close(timeout=5)
            assert f.close_code == 1001, "client %d: %r" % (i, f)
            ws.send(wsraw.close(1001))
        for i, ws in enumerate(clients):
            ws.assert_tcp_closed(timeout=5)
        rc = s.wait(timeout=max(0.5, drain - (time.monotonic() - t0)))
        elapsed = time.monotonic() - t0
        assert rc is not None, "server still running %.1fs after SIGTERM although all clients " \
                               "completed the close handshake" % elapsed
        assert rc == 0, "exit code %r" % rc
        assert elapsed < drain, elapsed
    finally:
        for ws in clients:
            ws.close_socket()


@pytest.mark.timeout(60)
def test_sigterm_without_clients_exits_promptly(server_factory):
    s = server_factory("--drain-timeout", "10s")
    resp, conn = wsraw.get(s.host, s.port, "/health")
    conn.close_socket()
    assert resp.status == 200
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    rc = s.wait(timeout=5)
    assert rc == 0, "exit code %r after %.1fs" % (rc, time.monotonic() - t0)


@pytest.mark.timeout(60)
def test_draining_health_503_and_exit_after_drain_timeout(server_factory):
    drain = 2.0
    s = server_factory("--drain-timeout", "2s")
    resp, conn = wsraw.get(s.host, s.port, "/health")
    conn.close_socket()
    assert resp.status == 200, resp
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(10)]
    try:
        for ws in clients:
            ws.echo(OP_BINARY, b"hi")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        # clients get the going-away close but never answer it
        for ws in clients:
            assert ws.expect_close(timeout=3).close_code == 1001
        assert time.monotonic() - t0 < drain, "close frames came too late to test draining"
        resp, conn = wsraw.get(s.host, s.port, "/health", timeout=3)
        conn.close_socket()
        assert time.monotonic() - t0 < drain
        assert resp.status == 503, "GET /health while draining: %r" % resp
        rc = s.wait(timeout=drain + 5)
        elapsed = time.monotonic() - t0
        assert rc is not None, "server did not exit within drain timeout + 5s"
        assert rc == 0, "exit code %r" % rc
        assert elapsed >= drain * 0.7, (
            "server exited after %.2fs, before the %.0fs drain timeout, although clients "
            "never completed the close handshake" % (elapsed, drain))
        # everyone got disconnected
        for ws in clients:
            assert ws.wait_closed(timeout=2)
    finally:
        for ws in clients:
            ws.close_socket()


@pytest.mark.timeout(60)
def test_drain_timeout_forces_exit_with_silent_clients(server_factory):
    # clients that neither read nor answer: still exit 0 about the drain timeout
    s = server_factory("--drain-timeout", "1s")
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(5)]
    try:
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        rc = s.wait(timeout=8)
        elapsed = time.monotonic() - t0
        assert rc == 0, "exit code %r after %.1fs" % (rc, elapsed)
        assert elapsed < 6, elapsed
    finally:
        for ws in clients:
            ws.close_socket()


@pytest.mark.timeout(120)
def test_drain_exits_by_the_deadline_and_says_who_was_cut(server_factory):
    # Issue 10.4: with 1,000 clients that never answer the 1001 and the admin listener on,
    # the exit came 1.5 s after a 2 s deadline, and the log said "drained". Now the process
    # exits within 100 ms of the deadline and the log tells clean closes from cut ones.
    from conftest import free_port
    drain = 2.0
    s = server_factory("--drain-timeout", "2s", "--admin-port", str(free_port()),
                       "--admin-bind", "127.0.0.1")
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(1000)]
    try:
        answering = clients[:300]
        for ws in clients[:3]:
            ws.echo(OP_BINARY, b"warm")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        for ws in answering:
            assert ws.expect_close(timeout=5).close_code == 1001
            ws.send(wsraw.close(1001))
        left = drain - (time.monotonic() - t0)
        assert left > 0.5, "the answers took too long to test the deadline"
        rc = s.wait(timeout=drain + 5)
        elapsed = time.monotonic() - t0
        assert rc == 0, "exit code %r" % rc
        assert drain * 0.95 <= elapsed < drain + 0.1 + 0.06, (
            "exit %.3f s after SIGTERM with --drain-timeout 2s (Popen.wait polls every 50 ms)"
            % elapsed)
        log = s.log_text()
        assert "300 connections closed cleanly" in log, log[-2000:]
        assert "700 cut off" in log, log[-2000:]
        assert "drained;" not in log
    finally:
        for ws in clients:
            ws.close_socket()


@pytest.mark.timeout(60)
def test_clean_drain_says_so(server_factory):
    s = server_factory("--drain-timeout", "10s")
    clients = [wsraw.open_ws(s.host, s.port) for _ in range(20)]
    try:
        s.signal(signal.SIGTERM)
        for ws in clients:
            assert ws.expect_close(timeout=5).close_code == 1001
            ws.send(wsraw.close(1001))
        assert s.wait(timeout=8) == 0
        log = s.log_text()
        assert "20 connections closed cleanly, 0 ended without a close" in log, log[-2000:]
        assert "cut off" not in log
    finally:
        for ws in clients:
            ws.close_socket()
