"""Opening handshake (RFC 6455 section 4.2) and plain HTTP endpoints."""

import base64
import os
import socket
import time

import pytest

import wsraw
from wsraw import OP_BINARY, OP_PING, OP_PONG, OP_TEXT, RawWS

SERVER_FLAGS = ["--drain-timeout", "3s"]


def _req(server, **kw):
    return wsraw.upgrade_request(server.host, server.port, **kw)


def _send_raw(server, data, timeout=5.0):
    resp, conn = wsraw.http_request(server.host, server.port, data, timeout=timeout)
    return resp, conn


def _expect_upgrade(server, request, key):
    with RawWS(server.host, server.port) as ws:
        ws.send(request)
        resp = ws.read_http_response()
        wsraw.check_upgrade_response(resp, key)
        # and the connection really is a working echo socket now
        ws.echo(OP_TEXT, "hello after handshake")
        ws.close_handshake()
    return resp


def _expect_error(server, request, status):
    resp, conn = _send_raw(server, request)
    with conn:
        wsraw.check_error_response(resp, conn, status)
    return resp


# --------------------------------------------------------------------------
# successful handshakes
# --------------------------------------------------------------------------

def test_valid_handshake_accept_key(server):
    # Known example from RFC 6455 section 1.3
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    assert wsraw.accept_for(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    req, _ = _req(server, key=key)
    resp = _expect_upgrade(server, req, key)
    assert resp.get("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert resp.reason.lower().startswith("switching protocols"), resp.raw_head


def test_valid_handshake_random_keys(server):
    for _ in range(5):
        key = wsraw.make_key()
        req, _ = _req(server, key=key)
        _expect_upgrade(server, req, key)


def test_no_extensions_even_if_offered(server):
    key = wsraw.make_key()
    req, _ = _req(server, key=key, extra_headers=[
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        ("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")])
    resp = _expect_upgrade(server, req, key)
    assert not resp.has("sec-websocket-extensions")


@pytest.mark.parametrize("headers", [
    [("Upgrade", "WebSocket"), ("Connection", "Upgrade")],
    [("Upgrade", "WEBSOCKET"), ("Connection", "UPGRADE")],
    [("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade")],
    [("Upgrade", "websocket"), ("Connection", "Upgrade, keep-alive")],
    [("Upgrade", "websocket"), ("Connection", "keep-alive,upgrade")],
    [("Upgrade", "websocket"), ("Connection", "keep-alive"), ("Connection", "Upgrade")],
    [("upgrade", "websocket"), ("connection", "upgrade")],
    [("UPGRADE", "websocket"), ("CONNECTION", "Upgrade")],
    [("Upgrade", "  websocket  "), ("Connection", "  Upgrade ")],
], ids=["Upgrade-WebSocket", "all-caps-values", "conn-list-last", "conn-list-first",
        "conn-list-nospace", "conn-two-lines", "lowercase-names", "uppercase-names",
        "extra-whitespace"])
def test_header_variants_accepted(server, headers):
    key = wsraw.make_key()
    hdrs = [("Host", "%s:%d" % (server.host, server.port))] + headers + [
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
    req, _ = wsraw.upgrade_request(headers=hdrs)
    _expect_upgrade(server, req, key)


def test_header_order_and_extra_headers(server):
    key = wsraw.make_key()
    hdrs = [("User-Agent", "e2e"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key),
            ("Accept", "*/*"), ("Connection", "Upgrade"), ("Pragma", "no-cache"),
            ("Upgrade", "websocket"), ("Host", "example.com"),
            ("Sec-WebSocket-Protocol", "chat"), ("X-Custom", "a" * 200)]
    req, _ = wsraw.upgrade_request(headers=hdrs)
    _expect_upgrade(server, req, key)


def test_headers_just_below_default_limit_accepted(server):
    # default --max-header-bytes is 8 KiB; ~6 KiB of headers must be fine
    key = wsraw.make_key()
    extra = [("X-Pad-%d" % i, "p" * 500) for i in range(12)]
    req, _ = _req(server, key=key, extra_headers=extra)
    assert 6000 < len(req) < 7600
    _expect_upgrade(server, req, key)


def test_request_one_byte_at_a_time(server):
    key = wsraw.make_key()
    req, _ = _req(server, key=key)
    with RawWS(server.host, server.port) as ws:
        ws.send_slowly(req, chunk=1, delay=0.002)
        resp = ws.read_http_response()
        wsraw.check_upgrade_response(resp, key)
        ws.echo(OP_TEXT, "slow but fine")
        ws.close_handshake()


def test_handshake_and_frames_in_one_write(server):
    key = wsraw.make_key()
    req, _ = _req(server, key=key)
    payload = os.urandom(300)
    data = (req + wsraw.text("first") + wsraw.binary(payload) + wsraw.ping(b"pp")
            + wsraw.text("last"))
    with RawWS(server.host, server.port) as ws:
        ws.send(data)
        resp = ws.read_http_response()
        wsraw.check_upgrade_response(resp, key)
        ws.expect_message(OP_TEXT, "first")
        ws.expect_message(OP_BINARY, payload)
        ws.expect_message(OP_PONG, b"pp")
        ws.expect_message(OP_TEXT, "last")
        ws.close_handshake()


def test_handshake_and_close_in_one_write(server):
    key = wsraw.make_key()
    req, _ = _req(server, key=key)
    with RawWS(server.host, server.port) as ws:
        ws.send(req + wsraw.text("x") + wsraw.close(1000))
        wsraw.check_upgrade_response(ws.read_http_response(), key)
        ws.expect_message(OP_TEXT, "x")
        ws.expect_close_code(1000)
        ws.assert_tcp_closed()


# --------------------------------------------------------------------------
# 400
# --------------------------------------------------------------------------

def _hdrs(server, key=None, drop=(), replace=None, add=()):
    key = key or wsraw.make_key()
    base = [("Host", "%s:%d" % (server.host, server.port)), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
    out = []
    for n, v in base:
        if n.lower() in drop:
            continue
        if replace and n.lower() in replace:
            v = replace[n.lower()]
        out.append((n, v))
    return out + list(add)


BAD_400 = {
    "missing-host": dict(drop=("host",)),
    "missing-upgrade": dict(drop=("upgrade",)),
    "upgrade-h2c": dict(replace={"upgrade": "h2c"}),
    "upgrade-empty": dict(replace={"upgrade": ""}),
    "upgrade-websocketx": dict(replace={"upgrade": "websocketx"}),
    "missing-connection": dict(drop=("connection",)),
    "connection-keepalive-only": dict(replace={"connection": "keep-alive"}),
    "connection-close": dict(replace={"connection": "close"}),
    "connection-upgrades-substring": dict(replace={"connection": "keep-alive, upgrades"}),
    "missing-key": dict(drop=("sec-websocket-key",)),
    "key-empty": dict(replace={"sec-websocket-key": ""}),
    "key-15-bytes": dict(replace={"sec-websocket-key": base64.b64encode(b"x" * 15).decode()}),
    "key-17-bytes": dict(replace={"sec-websocket-key": base64.b64encode(b"x" * 17).decode()}),
    "key-not-base64": dict(replace={"sec-websocket-key": "!!!!not*base64*at*all!!"}),
    "key-raw-16-chars": dict(replace={"sec-websocket-key": "abcdefghijklmnop"}),
}


@pytest.mark.parametrize("case", sorted(BAD_400))
def test_bad_request_400(server, case):
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, **BAD_400[case]))
    _expect_error(server, req, 400)


def test_http_1_0_rejected_400(server):
    req, _ = wsraw.upgrade_request(headers=_hdrs(server), http_version="HTTP/1.0")
    _expect_error(server, req, 400)


def test_plain_get_echo_without_upgrade_400(server):
    req = ("GET /echo HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (server.host, server.port)).encode()
    _expect_error(server, req, 400)


def test_garbage_request_line_400(server):
    _expect_error(server, b"HELLO THERE\r\n\r\n", 400)


def test_missing_version_rejected(server):
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, drop=("sec-websocket-version",)))
    resp, conn = _send_raw(server, req)
    with conn:
        # RFC 6455 4.2.1 makes the header mandatory; either 400 or 426 is acceptable.
        assert resp.status in (400, 426), resp
        wsraw.check_error_response(resp, conn, resp.status)


# --------------------------------------------------------------------------
# 404 / 405 / 426 / 431
# --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/", "/echo/extra", "/ECHO"])
def test_unknown_path_upgrade_404(server, path):
    req, _ = wsraw.upgrade_request(headers=_hdrs(server), path=path)
    _expect_error(server, req, 404)


def test_unknown_path_plain_get_404(server):
    req = ("GET /nope HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (server.host, server.port)).encode()
    _expect_error(server, req, 404)


def test_post_echo_405(server):
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, add=[("Content-Length", "0")]),
                                   method="POST")
    _expect_error(server, req, 405)


def test_405_has_allow_header(server):
    # RFC 9110 15.5.6: a 405 response MUST carry an Allow header.
    req = ("POST /echo HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 0\r\n\r\n"
           % (server.host, server.port)).encode()
    resp = _expect_error(server, req, 405)
    assert "get" in resp.tokens("allow"), "405 without 'Allow: GET': %r" % resp


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD", "OPTIONS"])
def test_other_methods_on_echo_405(server, method):
    req = ("%s /echo HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 0\r\n\r\n"
           % (method, server.host, server.port)).encode()
    with RawWS(server.host, server.port) as conn:
        conn.send(req)
        # (a response to HEAD has no body even with Content-Length)
        resp = conn.read_http_response(expect_body=(method != "HEAD"))
        assert resp.status == 405, resp


@pytest.mark.parametrize("version", ["8", "12", "14", "0", "abc"])
def test_wrong_version_426(server, version):
    req, _ = wsraw.upgrade_request(
        headers=_hdrs(server, replace={"sec-websocket-version": version}))
    resp = _expect_error(server, req, 426)
    assert resp.get_all("sec-websocket-version") == ["13"], resp


def test_headers_too_large_431(server):
    # default --max-header-bytes is 8 KiB
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, add=[("X-Big", "b" * 10000)]))
    _expect_error(server, req, 431)


def test_many_headers_too_large_431(server):
    add = [("X-H%d" % i, "v" * 100) for i in range(120)]  # ~13 KiB
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, add=add))
    _expect_error(server, req, 431)


def test_unterminated_huge_header_431(server):
    # headers never end: the server must answer 431 once the limit is crossed
    data = ("GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ").encode() + b"z" * 12000
    with RawWS(server.host, server.port) as c:
        c.send(data)
        resp = c.read_http_response(timeout=5)
        wsraw.check_error_response(resp, c, 431)


def test_max_header_bytes_flag(server_factory):
    s = server_factory("--max-header-bytes", "2KiB")
    key = wsraw.make_key()
    req, _ = wsraw.upgrade_request(headers=_hdrs(s, key=key, add=[("X-Pad", "a" * 1200)]))
    _expect_upgrade(s, req, key)
    req, _ = wsraw.upgrade_request(headers=_hdrs(s, add=[("X-Pad", "a" * 3000)]))
    _expect_error(s, req, 431)


# --------------------------------------------------------------------------
# request line and message framing (RFC 9112): absolute-form, 414, 505,
# content on the upgrade request, obsolete line folding
# --------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["http://{host}:{port}/echo", "http://{host}:{port}/echo?x=1",
                                    "HTTP://example.com/echo", "ws://{host}:{port}/echo"],
                         ids=["http", "http-query", "scheme-case", "ws"])
def test_absolute_form_target_upgrades(server, target):
    # RFC 9112 3.2.2: "A server MUST accept the absolute-form in requests".
    key = wsraw.make_key()
    path = target.format(host=server.host, port=server.port)
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, key=key), path=path)
    _expect_upgrade(server, req, key)


def test_absolute_form_health(server):
    req = ("GET http://%s:%d/health HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
           % (server.host, server.port, server.host, server.port)).encode()
    resp, conn = _send_raw(server, req)
    with conn:
        assert resp.status == 200, resp


@pytest.mark.parametrize("target", ["http://u@{host}/echo", "ftp://{host}/echo"],
                         ids=["userinfo", "ftp"])
def test_absolute_form_invalid_400(server, target):
    # RFC 9110 4.2.4: userinfo in an http URI is an error; no scheme but http(s)/ws(s) is ours.
    req, _ = wsraw.upgrade_request(headers=_hdrs(server), path=target.format(host=server.host))
    _expect_error(server, req, 400)


@pytest.mark.parametrize("length", [513, 600, 20000])
def test_long_target_414(server, length):
    # RFC 9110 15.5.15: a target longer than the server interprets (512 bytes) gets 414, also
    # when it is longer than the whole header limit (8 KiB): the target is what is wrong.
    path = "/echo?" + "q" * (length - len("/echo?"))
    req, _ = wsraw.upgrade_request(headers=_hdrs(server), path=path)
    _expect_error(server, req, 414)


def test_long_target_judged_before_a_later_bad_byte(server):
    # 414 falls at the 513th byte of the target, before llhttp sees the control byte after it,
    # whether the request comes in one write or in many (it was 400 in one, 414 in small ones).
    data = b"GET /echo?" + b"q" * 600 + b"\x01 HTTP/1.1\r\nHost: h\r\n\r\n"
    for chunk in (0, 7):
        with RawWS(server.host, server.port) as c:
            if chunk:
                c.send_slowly(data, chunk=chunk, delay=0.0005, stop_on_error=True)
            else:
                c.send(data)
            resp = c.read_http_response(timeout=5)
            wsraw.check_error_response(resp, c, 414)


def test_longest_target_accepted(server):
    key = wsraw.make_key()
    path = "/echo?" + "q" * (512 - len("/echo?"))
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, key=key), path=path)
    _expect_upgrade(server, req, key)


def test_unterminated_long_target_414_at_once(server):
    # The answer comes as soon as the target is too long, not when the request ends.
    with RawWS(server.host, server.port) as c:
        c.send(b"GET /echo?" + b"q" * 600)
        resp = c.read_http_response(timeout=5)
        wsraw.check_error_response(resp, c, 414)


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
def test_other_major_version_505(server, version):
    # RFC 9110 15.6.6 / RFC 9112 2.3: 505 refuses the request's major version. An HTTP/2
    # connection starts with its preface (RFC 9113 3.4) and has no Upgrade (8.2.2), so
    # "HTTP/2.0" in an HTTP/1 request line is a version this server does not speak.
    req, _ = wsraw.upgrade_request(headers=_hdrs(server), http_version=version)
    _expect_error(server, req, 505)


def test_higher_minor_version_upgrades(server):
    # RFC 9110 2.5: a higher minor version of a major version we implement is handled as
    # the highest minor version we implement (1.1).
    key = wsraw.make_key()
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, key=key), http_version="HTTP/1.2")
    _expect_upgrade(server, req, key)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_request_content_400(server, framing):
    # Bytes after the upgrade request are WebSocket frames: content on it would be read as
    # frames. Here the content is a valid masked text frame, which the old server echoed.
    body = wsraw.text("smuggled")
    if framing == "content-length":
        add, data = [("Content-Length", str(len(body)))], body
    else:
        add, data = [("Transfer-Encoding", "chunked")], b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, add=add))
    _expect_error(server, req + data, 400)


def test_request_content_length_zero_upgrades(server):
    key = wsraw.make_key()
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, key=key, add=[("Content-Length", "0")]))
    _expect_upgrade(server, req, key)


@pytest.mark.parametrize("where", ["end-of-headers", "after-request-line", "in-a-header"])
def test_bare_cr_400(server, where):
    # RFC 9112 2.2: a bare CR MUST be treated as invalid (or replaced with SP). The llhttp the
    # server uses (8.1.0) ends the header block at a CR followed by any byte: the old server
    # upgraded the first request (its last byte taken for the LF) and answered the second
    # with 200, reading "Host: ..." as what follows the request.
    if where == "end-of-headers":
        req, _ = wsraw.upgrade_request(headers=_hdrs(server))
        req = req[:-2] + b"\rX"
    elif where == "after-request-line":
        req = b"GET /health HTTP/1.1\n\rHost: h\r\n\r\n"
    else:
        req, _ = wsraw.upgrade_request(headers=_hdrs(server))
        req = req.replace(b"\r\nUpgrade:", b"\rUpgrade:", 1)
    _expect_error(server, req, 400)


@pytest.mark.parametrize("chunk", [0, 1])
def test_obsolete_line_folding_400(server, chunk):
    # RFC 9112 5.2: a server MUST reject obs-fold with 400 (or unfold it). Folded here: the
    # Connection header, which the old server unfolded into "keep-alive, Upgrade" and upgraded.
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, drop=("connection",)))
    req = req.replace(b"\r\n\r\n", b"\r\nConnection: keep-alive,\r\n Upgrade\r\n\r\n")
    with RawWS(server.host, server.port) as c:
        if chunk:
            c.send_slowly(req, chunk=chunk, delay=0.001)
        else:
            c.send(req)
        resp = c.read_http_response(timeout=5)
        wsraw.check_error_response(resp, c, 400)


# --------------------------------------------------------------------------
# 403 origins
# --------------------------------------------------------------------------

def test_allowed_origins(server_factory):
    s = server_factory("--allowed-origins", "https://good.example,http://also.example:8080")
    for origin in ("https://good.example", "http://also.example:8080"):
        key = wsraw.make_key()
        req, _ = wsraw.upgrade_request(headers=_hdrs(s, key=key, add=[("Origin", origin)]))
        _expect_upgrade(s, req, key)
    for origin in ("https://evil.example", "https://good.example.evil", "http://good.example",
                   "null"):
        req, _ = wsraw.upgrade_request(headers=_hdrs(s, add=[("Origin", origin)]))
        _expect_error(s, req, 403)


def test_any_origin_when_not_configured(server):
    key = wsraw.make_key()
    req, _ = wsraw.upgrade_request(headers=_hdrs(server, key=key,
                                                 add=[("Origin", "https://whatever.example")]))
    _expect_upgrade(server, req, key)


# --------------------------------------------------------------------------
# 503 max connections
# --------------------------------------------------------------------------

def test_max_connections_503(server_factory):
    s = server_factory("--max-connections", "2")
    a = wsraw.open_ws(s.host, s.port)
    b = wsraw.open_ws(s.host, s.port)
    try:
        a.echo(OP_TEXT, "a")
        b.echo(OP_TEXT, "b")
        req, _ = wsraw.upgrade_request(headers=_hdrs(s))
        _expect_error(s, req, 503)
        # existing connections are unaffected
        a.echo(OP_TEXT, "a2")
        b.echo(OP_TEXT, "b2")
        # free one slot with a clean close; then a new upgrade must succeed
        a.close_handshake()
        a.close_socket()
        ok = None
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            key = wsraw.make_key()
            req, _ = wsraw.upgrade_request(headers=_hdrs(s, key=key))
            c = RawWS(s.host, s.port)
            c.send(req)
            resp = c.read_http_response()
            if resp.status == 101:
                wsraw.check_upgrade_response(resp, key)
                ok = c
                break
            c.close_socket()
            time.sleep(0.1)
        assert ok is not None, "after closing one of 2 connections a new upgrade was still refused"
        ok.echo(OP_TEXT, "c")
        ok.close_handshake()
        ok.close_socket()
        b.echo(OP_TEXT, "b3")
        b.close_handshake()
    finally:
        a.close_socket()
        b.close_socket()


# --------------------------------------------------------------------------
# /health
# --------------------------------------------------------------------------

def test_health_200(server):
    resp, conn = wsraw.get(server.host, server.port, "/health")
    with conn:
        assert resp.status == 200, resp
        assert resp.version == "HTTP/1.1"
        assert 0 < len(resp.body) <= 1024, resp.body
        assert not resp.has("sec-websocket-accept")


def test_health_repeated(server):
    for _ in range(20):
        resp, conn = wsraw.get(server.host, server.port, "/health")
        conn.close_socket()
        assert resp.status == 200, resp


def test_connection_reset_during_handshake_does_not_hurt(server):
    for i in range(20):
        c = RawWS(server.host, server.port)
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n"[: 5 + i])
        # abortive close (RST)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close_socket()
    ws = wsraw.open_ws(server.host, server.port)
    with ws:
        ws.echo(OP_TEXT, "still alive")
        ws.close_handshake()


def test_max_connections_slots_released(server_factory):
    """Connections ended in every possible way must give their slot back."""
    s = server_factory("--max-connections", "3", "--handshake-timeout", "1s")
    for i in range(25):
        ws = wsraw.open_ws(s.host, s.port)
        mode = i % 5
        if mode == 0:      # clean client-initiated close
            ws.echo(OP_TEXT, "x")
            ws.close_handshake()
        elif mode == 1:    # protocol error
            ws.send(wsraw.build_frame(5, b"bad"))
            ws.expect_close_code(1002)
            assert ws.wait_closed(5)
        elif mode == 2:    # abortive close (RST)
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif mode == 3:    # FIN without a close frame
            ws.sock.shutdown(socket.SHUT_WR)
            assert ws.wait_closed(5)
        else:              # too-big control frame
            ws.send(wsraw.build_frame(OP_PING, b"p" * 200))
            ws.expect_close_code(1002)
            assert ws.wait_closed(5)
        ws.close_socket()
    # a connection that dies in the handshake (timeout) too
    with RawWS(s.host, s.port) as silent:
        assert silent.wait_closed(6)

    def try_fill():
        conns = []
        try:
            for _ in range(3):
                key = wsraw.make_key()
                req, _ = wsraw.upgrade_request(headers=_hdrs(s, key=key))
                c = RawWS(s.host, s.port)
                conns.append(c)
                c.send(req)
                resp = c.read_http_response()
                if resp.status != 101:
                    return None, conns
                wsraw.check_upgrade_response(resp, key)
            return True, conns
        except BaseException:
            for c in conns:
                c.close_socket()
            raise

    deadline = time.monotonic() + 3
    while True:
        ok, conns = try_fill()
        if ok:
            break
        for c in conns:
            c.close_socket()
        assert time.monotonic() < deadline, "slots were not released after 25 closed connections"
        time.sleep(0.2)
    try:
        for c in conns:
            c.echo(OP_BINARY, b"slot")
        req, _ = wsraw.upgrade_request(headers=_hdrs(s))
        _expect_error(s, req, 503)
        for c in conns:
            c.close_handshake()
    finally:
        for c in conns:
            c.close_socket()
