"""Handshake timeout, idle timeout, ping interval."""

import errno
import select
import socket
import time

import pytest

import wsraw
from wsraw import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawWS


def _wait_closed_while_trickling(c, data, interval, timeout):
    """Send data one byte every `interval` seconds until the server closes
    the connection. Return seconds until close, or None."""
    t0 = time.monotonic()
    i = 0
    c.sock.setblocking(False)
    while time.monotonic() - t0 < timeout:
        if i < len(data):
            try:
                c.sock.send(data[i:i + 1])
                i += 1
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
            except BlockingIOError:
                pass
        r, _, _ = select.select([c.sock], [], [], interval)
        if r:
            try:
                chunk = c.sock.recv(65536)
            except ConnectionResetError:
                return time.monotonic() - t0
            except BlockingIOError:
                continue
            if not chunk:
                return time.monotonic() - t0
    return None


# --------------------------------------------------------------------------
# handshake timeout
# --------------------------------------------------------------------------

@pytest.mark.parametrize("flag,lower", [("1s", 0.8), ("500ms", 0.35)])
def test_handshake_timeout_silent_connection(server_factory, flag, lower):
    s = server_factory("--handshake-timeout", flag)
    with RawWS(s.host, s.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(timeout=6), "silent connection not closed within 6s"
        elapsed = time.monotonic() - t0
        assert lower <= elapsed <= 4.0, "closed after %.2fs (handshake timeout %s)" % (
            elapsed, flag)


def test_handshake_timeout_partial_request(server_factory):
    s = server_factory("--handshake-timeout", "1s")
    with RawWS(s.host, s.port) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        t0 = time.monotonic()
        assert c.wait_closed(timeout=6), "partial request not closed within 6s"
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed <= 4.0, elapsed


def test_handshake_timeout_slowloris(server_factory):
    """Bytes trickling in must not extend the handshake deadline forever."""
    s = server_factory("--handshake-timeout", "1s")
    req, _ = wsraw.upgrade_request(s.host, s.port,
                                   extra_headers=[("X-Slow", "s" * 200)])
    with RawWS(s.host, s.port) as c:
        elapsed = _wait_closed_while_trickling(c, req, 0.2, 8.0)
        assert elapsed is not None, "server kept a trickling handshake open for 8s " \
                                    "(handshake timeout 1s)"
        assert elapsed <= 4.0, elapsed


def test_handshake_timeout_does_not_affect_open_websocket(server_factory):
    s = server_factory("--handshake-timeout", "1s")
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.assert_no_data(2.5)
        ws.echo(OP_TEXT, "still open after handshake timeout")
        ws.close_handshake()


def test_handshake_timeout_env_var_plain_seconds(server_factory):
    s = server_factory(env={"MILLIONWS_HANDSHAKE_TIMEOUT": "1"})
    with RawWS(s.host, s.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(timeout=6)
        assert 0.8 <= time.monotonic() - t0 <= 4.0


# --------------------------------------------------------------------------
# idle timeout
# --------------------------------------------------------------------------

def test_idle_websocket_closed(server_factory):
    s = server_factory("--idle-timeout", "1s")
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_TEXT, "hello")
        t0 = time.monotonic()
        f = ws.expect_close(timeout=6)
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed <= 4.0, "idle close after %.2fs (idle timeout 1s)" % elapsed
        ws.send(wsraw.close(f.close_code or 1000))
        ws.assert_tcp_closed(timeout=3)


def test_idle_websocket_closed_even_if_client_ignores_close(server_factory):
    s = server_factory("--idle-timeout", "1s")
    with wsraw.open_ws(s.host, s.port) as ws:
        t0 = time.monotonic()
        ws.expect_close(timeout=6)
        # never answer; the server must still drop the TCP connection
        assert ws.wait_closed(timeout=8), "server kept an idle, unresponsive client open"
        assert time.monotonic() - t0 < 10


def test_active_client_not_idle_closed(server_factory):
    s = server_factory("--idle-timeout", "1s")
    with wsraw.open_ws(s.host, s.port) as ws:
        t_end = time.monotonic() + 3.0
        i = 0
        while time.monotonic() < t_end:
            ws.echo(OP_TEXT, "keepalive %d" % i)  # fails if a close frame arrives
            i += 1
            time.sleep(0.3)
        ws.close_handshake()


def test_idle_timeout_env_var(server_factory):
    s = server_factory(env={"MILLIONWS_IDLE_TIMEOUT": "1"})
    with wsraw.open_ws(s.host, s.port) as ws:
        t0 = time.monotonic()
        ws.expect_close(timeout=6)
        assert time.monotonic() - t0 <= 4.0


# --------------------------------------------------------------------------
# ping interval
# --------------------------------------------------------------------------

def test_ping_interval_pings_idle_client(server_factory):
    s = server_factory("--ping-interval", "1s")
    with wsraw.open_ws(s.host, s.port) as ws:
        t0 = time.monotonic()
        pings = 0
        while pings < 2:
            f = ws.recv_frame(timeout=4)  # strict: unmasked, <= 125 bytes
            assert f.opcode == OP_PING, "expected a ping from the server, got %r" % f
            pings += 1
            ws.send(wsraw.pong(f.payload))
        elapsed = time.monotonic() - t0
        assert 1.0 <= elapsed <= 6.0, "2 pings took %.2fs with --ping-interval 1s" % elapsed
        # connection still works (answered pings keep it alive)
        ws.send(wsraw.text("after pings"))
        while True:
            op, data = ws.recv_message(timeout=4)
            if op == OP_PING:
                ws.send(wsraw.pong(data))
                continue
            assert (op, data) == (OP_TEXT, b"after pings")
            break
        ws.close_handshake(skip_pings=True)


def test_defaults_no_idle_timeout_no_server_pings(server_factory):
    # defaults: --idle-timeout off, --ping-interval off (handshake timeout 10s
    # does not apply to an upgraded connection either)
    s = server_factory()
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.assert_no_data(3.0)  # no ping, no close
        ws.echo(OP_TEXT, "default: no idle timeout")
        ws.close_handshake()
