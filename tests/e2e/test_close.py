"""Close handling (RFC 6455 5.5.1, 7.4; Autobahn group 7)."""

import os
import socket

import pytest

import wsraw
from wsraw import OP_BINARY, OP_TEXT

SERVER_FLAGS = ["--drain-timeout", "3s"]

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
# Invalid codes, a one-byte payload and a too-long reason: test_framing.py's table of 1002s.


def _open(server):
    return wsraw.open_ws(server.host, server.port)


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_code_echoed(server, code):
    with _open(server) as ws:
        ws.send(wsraw.close(code, b"bye"))
        f = ws.expect_close()
        assert f.close_code == code, f
        ws.assert_tcp_closed()


@pytest.mark.parametrize("code", [1000, 4000])
def test_valid_close_code_without_reason(server, code):
    with _open(server) as ws:
        ws.send(wsraw.close(code))
        assert ws.expect_close().close_code == code
        ws.assert_tcp_closed()


def test_empty_close(server):
    with _open(server) as ws:
        ws.send(wsraw.close())
        f = ws.expect_close()
        assert f.payload == b"" or f.close_code == 1000, f
        ws.assert_tcp_closed()


def test_close_with_max_reason(server):
    reason = b"r" * 123  # 2 + 123 = 125 = max control payload
    with _open(server) as ws:
        ws.send(wsraw.close(1000, reason))
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


def test_close_with_multibyte_reason(server):
    with _open(server) as ws:
        ws.send(wsraw.close(1000, "κόσμε – bye 😀".encode()))
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


@pytest.mark.parametrize("reason", [b"\xff", b"bye\xed\xa0\x80", b"\xc0\x80", b"abc\xe2\x82"])
def test_close_with_invalid_utf8_reason_1007(server, reason):
    with _open(server) as ws:
        ws.send(wsraw.close(1000, reason))
        ws.expect_fail(1007)


def test_close_after_echo(server):
    with _open(server) as ws:
        ws.send(wsraw.text("Hello World!") + wsraw.close(1000))
        ws.expect_message(OP_TEXT, "Hello World!")
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


def test_close_twice(server):
    with _open(server) as ws:
        ws.send(wsraw.close(1000) + wsraw.close(1001))
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()  # no second close frame


def test_ping_after_close_not_answered(server):
    with _open(server) as ws:
        ws.send(wsraw.close(1000) + wsraw.ping(b"after close"))
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()  # no pong


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_data_after_close_ignored(server, opcode):
    with _open(server) as ws:
        ws.send(wsraw.close(1000) + wsraw.build_frame(opcode, b"after close"))
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()  # no echo


def test_data_after_close_in_separate_write_ignored(server):
    with _open(server) as ws:
        ws.send(wsraw.close(1000))
        # send more right away (may race with the server's TCP close)
        try:
            ws.send(wsraw.text("late"))
        except OSError:
            pass
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


def test_close_in_middle_of_fragmented_message(server):
    with _open(server) as ws:
        ws.send(wsraw.text("frag", fin=False) + wsraw.close(1000) + wsraw.cont("ment"))
        assert ws.expect_close().close_code == 1000  # no echo of "frag"/"fragment"
        ws.assert_tcp_closed()


def test_large_message_then_close_then_ping(server):
    big = os.urandom(256 * 1024)
    with _open(server) as ws:
        ws.send(wsraw.binary(big) + wsraw.close(1000) + wsraw.ping(b"late"))
        ws.expect_message(OP_BINARY, big, timeout=10)
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


def test_close_sent_slowly(server):
    with _open(server) as ws:
        ws.send_slowly(wsraw.close(3000, b"slow"), chunk=1, delay=0.005)
        assert ws.expect_close().close_code == 3000
        ws.assert_tcp_closed()


def test_abrupt_tcp_close_does_not_hurt_server(server):
    for i in range(30):
        ws = _open(server)
        if i % 3 == 0:
            ws.send(wsraw.text("x" * 1000, fin=False))
        elif i % 3 == 1:
            ws.send(wsraw.binary(b"y" * 70000)[:5000])  # half a frame
        if i % 2:
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        ws.close_socket()
    with _open(server) as ws:
        ws.echo(OP_TEXT, "ok")
        ws.close_handshake()


@pytest.mark.skipif(wsraw.TLS_CONTEXT is not None,
                    reason="--tls: python's SSLSocket.shutdown(SHUT_WR) drops the TLS layer, so "
                           "the server's reply could not be read back")
def test_half_close_after_close_frame(server):
    # client sends close and shuts down its write side; server must still
    # answer with a close frame and close.
    with _open(server) as ws:
        ws.send(wsraw.close(1000))
        ws.sock.shutdown(socket.SHUT_WR)
        assert ws.expect_close().close_code == 1000
        ws.assert_tcp_closed()


def test_tcp_eof_without_close_frame(server):
    # client half-closes without a close frame: server must close its side
    with _open(server) as ws:
        ws.echo(OP_TEXT, "before")
        ws.sock.shutdown(socket.SHUT_WR)
        closed = ws.wait_closed(timeout=5)
        assert closed, "server did not close after client EOF"
