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
