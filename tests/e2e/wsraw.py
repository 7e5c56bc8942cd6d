"""Minimal raw-socket WebSocket / HTTP client used by the MillionWS e2e tests.

It deliberately implements only what the tests need, but with full control
over every bit that goes on the wire (fin/rsv/opcode/mask/length encoding),
and it checks every frame the *server* sends for RFC 6455 conformance
(unmasked, shortest length encoding, no RSV bits, known opcodes, valid
control frames).
"""

import base64
import errno
import hashlib
import os
import re
import select
import socket
import ssl
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

RSV1 = 4
RSV2 = 2
RSV3 = 1

KNOWN_OPCODES = {OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG}

DEFAULT_TIMEOUT = 5.0
# Set by conftest under --tls: every RawWS then speaks TLS (to a server's wss:// port).
TLS_CONTEXT = None
# After *failing* a connection (protocol error, invalid UTF-8, too big...) the
# server must close TCP right after its close frame, without waiting for the
# client's close reply (RFC 6455 7.1.7). Also used after a client-initiated
# close handshake, where the server should close TCP first (7.1.1).
PROMPT_CLOSE_TIMEOUT = 2.0


class ServerProtocolViolation(AssertionError):
    """The server sent something that violates RFC 6455."""


class ConnectionClosed(Exception):
    """The TCP connection was closed (EOF or reset) while reading."""

    def __init__(self, msg, partial=b""):
        super().__init__(msg)
        self.partial = bytes(partial)


class ReadTimeout(AssertionError):
    """Nothing (or not enough) arrived before the deadline."""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def make_key(raw=None):
    """Random Sec-WebSocket-Key (base64 of 16 bytes)."""
    if raw is None:
        raw = os.urandom(16)
    return base64.b64encode(raw).decode("ascii")


def accept_for(key):
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def mask_payload(data, key):
    """XOR data with the 4-byte masking key (fast for large payloads)."""
    n = len(data)
    if n == 0 or key == b"\x00\x00\x00\x00":
        return bytes(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def close_payload(code=None, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    if code is None:
        return b"" + reason
    return struct.pack("!H", code) + reason


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None,
                length_form=None, declared_length=None):
    """Build one frame.

    rsv: bit mask of RSV1 (4) | RSV2 (2) | RSV3 (1).
    length_form: None (shortest), "7", "16" or "64" to force an encoding.
    declared_length: length written in the header (defaults to len(payload));
                     lets a test lie about the payload size.
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    payload = bytes(payload)
    length = len(payload) if declared_length is None else declared_length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if length_form is None:
        if length <= 125:
            length_form = "7"
        elif length <= 0xFFFF:
            length_form = "16"
        else:
            length_form = "64"
    if length_form == "7":
        assert length <= 125
        hdr = struct.pack("!BB", b0, mbit | length)
    elif length_form == "16":
        assert length <= 0xFFFF
        hdr = struct.pack("!BBH", b0, mbit | 126, length)
    elif length_form == "64":
        hdr = struct.pack("!BBQ", b0, mbit | 127, length)
    else:
        raise ValueError(length_form)
    if mask:
        if mask_key is None:
            mask_key = os.urandom(4)
        assert len(mask_key) == 4
        return hdr + mask_key + mask_payload(payload, mask_key)
    return hdr + payload


def frame(opcode, payload=b"", **kw):
    return build_frame(opcode, payload, **kw)


def text(payload, **kw):
    return build_frame(OP_TEXT, payload, **kw)


def binary(payload, **kw):
    return build_frame(OP_BINARY, payload, **kw)


def ping(payload=b"", **kw):
    return build_frame(OP_PING, payload, **kw)


def pong(payload=b"", **kw):
    return build_frame(OP_PONG, payload, **kw)


def close(code=None, reason=b"", **kw):
    return build_frame(OP_CLOSE, close_payload(code, reason), **kw)


def cont(payload=b"", **kw):
    return build_frame(OP_CONT, payload, **kw)


def upgrade_request(host="127.0.0.1", port=None, path="/echo", key=None,
                    version="13", extra_headers=(), method="GET",
                    http_version="HTTP/1.1", omit=(), headers=None):
    """Build an HTTP upgrade request.

    headers: full override as a list of (name, value); otherwise a standard
    request is built. omit: header names (lower-case) to leave out.
    extra_headers: additional (name, value) pairs appended.
    """
    if key is None:
        key = make_key()
    if headers is None:
        hostval = host if port is None else "%s:%d" % (host, port)
        headers = [
            ("Host", hostval),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", version),
        ]
        headers = [(n, v) for (n, v) in headers if n.lower() not in omit]
    headers = list(headers) + list(extra_headers)
    lines = ["%s %s %s" % (method, path, http_version)]
    lines += ["%s: %s" % (n, v) for (n, v) in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


# --------------------------------------------------------------------------
# frames / responses
# --------------------------------------------------------------------------

class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload", "length_form", "header")

    def __init__(self, fin, rsv, opcode, masked, payload, length_form, header):
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.masked = masked
        self.payload = payload
        self.length_form = length_form
        self.header = header

    @property
    def close_code(self):
        assert self.opcode == OP_CLOSE
        if len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None

    @property
    def close_reason(self):
        assert self.opcode == OP_CLOSE
        return self.payload[2:]

    def __repr__(self):
        p = self.payload
        shown = p if len(p) <= 40 else p[:40] + b"..."
        return "Frame(fin=%d rsv=%d op=0x%x masked=%d len=%d form=%s payload=%r)" % (
            self.fin, self.rsv, self.opcode, self.masked, len(p), self.length_form, shown)


class HttpResponse:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def get(self, name, default=None):
        name = name.lower()
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for (n, v) in self.headers if n == name]

    def tokens(self, name):
        out = []
        for v in self.get_all(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def has(self, name):
        return self.get(name) is not None

    def __repr__(self):
        return "HttpResponse(%s %d %r headers=%r body=%r)" % (
            self.version, self.status, self.reason, self.headers, self.body[:200])


STATUS_LINE_RE = re.compile(r"^(HTTP/1\.[01]) (\d{3}) (.*)$")


# --------------------------------------------------------------------------
# connection
# --------------------------------------------------------------------------

class RawWS:
    """A raw TCP connection speaking HTTP/WebSocket by hand."""

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT, sndbuf=None, rcvbuf=None, tls=None,
                 session=None):
        """tls: an ssl.SSLContext to speak TLS with, False for plain TCP, None for the
        suite's choice (TLS_CONTEXT, set under --tls)."""
        self.host = host
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = TLS_CONTEXT if tls is None else tls
        if ctx:
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost", session=session)
        self.buf = bytearray()
        self.eof = False
        self.eof_reason = None
        self.key = None
        self.response = None
        self._frag_op = None
        self._frag_data = bytearray()

    # -- context manager ---------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_socket()

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- raw io --------------------------------------------------------------
    def send(self, data):
        self.sock.settimeout(DEFAULT_TIMEOUT * 4)
        self.sock.sendall(data)

    def send_slowly(self, data, chunk=1, delay=0.001, stop_on_error=False):
        """Send data in small pieces with a delay between them. With
        stop_on_error, a connection closed/reset by the server just stops the
        sending (for data the server may legitimately reject half-way)."""
        self.sock.settimeout(DEFAULT_TIMEOUT * 4)
        for i in range(0, len(data), chunk):
            try:
                self.sock.sendall(data[i:i + chunk])
            except (BrokenPipeError, ConnectionResetError):
                if stop_on_error:
                    return False
                raise
            if delay:
                time.sleep(delay)
        return True

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def _fill(self, deadline):
        """Receive more bytes into self.buf; raise ConnectionClosed / ReadTimeout."""
        if self.eof:
            raise ConnectionClosed("connection already closed (%s)" % self.eof_reason, self.buf)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout("timed out waiting for data (have %d buffered bytes: %r)"
                              % (len(self.buf), bytes(self.buf[:64])))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise ReadTimeout("timed out waiting for data (have %d buffered bytes: %r)"
                              % (len(self.buf), bytes(self.buf[:64])))
        except ConnectionResetError:
            self.eof = True
            self.eof_reason = "reset"
            raise ConnectionClosed("connection reset by peer", self.buf)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            # TLS: an EOF without close_notify (close_notify itself reads as b"").
            self.eof = True
            self.eof_reason = "eof"
            raise ConnectionClosed("TLS EOF: %s" % e, self.buf)
        except ssl.SSLError as e:
            self.eof = True
            self.eof_reason = "alert"
            raise ConnectionClosed("TLS error: %s" % e, self.buf)
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
                self.eof = True
                self.eof_reason = "reset"
                raise ConnectionClosed("connection error: %s" % e, self.buf)
            raise
        if not data:
            self.eof = True
            self.eof_reason = "eof"
            raise ConnectionClosed("connection closed (EOF)", self.buf)
        self.buf += data

    def read_exact(self, n, timeout=DEFAULT_TIMEOUT, deadline=None):
        if deadline is None:
            deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, marker, timeout=DEFAULT_TIMEOUT, limit=1 << 20):
        deadline = time.monotonic() + timeout
        while True:
            idx = self.buf.find(marker)
            if idx >= 0:
                out = bytes(self.buf[:idx + len(marker)])
                del self.buf[:idx + len(marker)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            self._fill(deadline)

    def read_to_eof(self, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except ConnectionClosed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    # -- HTTP ----------------------------------------------------------------
    def read_http_response(self, timeout=DEFAULT_TIMEOUT, expect_body=True):
        """Read one HTTP response. Body framing: Content-Length, chunked, or
        until EOF (which must happen before the timeout)."""
        deadline = time.monotonic() + timeout
        head = self.read_until(b"\r\n\r\n", timeout=timeout, limit=64 * 1024)
        text_head = head.decode("latin-1")
        lines = text_head.split("\r\n")
        m = STATUS_LINE_RE.match(lines[0])
        if not m:
            raise AssertionError("malformed status line: %r" % lines[0])
        version, status, reason = m.group(1), int(m.group(2)), m.group(3)
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            if ":" not in line:
                raise AssertionError("malformed header line %r in %r" % (line, text_head))
            n, v = line.split(":", 1)
            if n != n.strip() or not n:
                raise AssertionError("malformed header name %r" % n)
            headers.append((n.lower(), v.strip()))
        resp = HttpResponse(version, status, reason, headers, b"", head)
        if status == 101 or not expect_body:
            return resp
        cl = resp.get("content-length")
        te = resp.get("transfer-encoding")
        if cl is not None:
            if not cl.isdigit():
                raise AssertionError("bad Content-Length %r" % cl)
            n = int(cl)
            resp.body = self.read_exact(n, deadline=deadline)
        elif te is not None and "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.read_until(b"\r\n", timeout=max(0.01, deadline - time.monotonic()))
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    self.read_until(b"\r\n", timeout=max(0.01, deadline - time.monotonic()))
                    break
                body += self.read_exact(size, deadline=deadline)
                self.read_exact(2, deadline=deadline)
            resp.body = bytes(body)
        else:
            # body delimited by connection close
            while True:
                try:
                    self._fill(deadline)
                except ConnectionClosed:
                    break
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def handshake(self, path="/echo", key=None, extra_headers=(), timeout=DEFAULT_TIMEOUT,
                  check=True, **kw):
        req, key = upgrade_request(self.host, self.port, path=path, key=key,
                                   extra_headers=extra_headers, **kw)
        self.key = key
        self.send(req)
        resp = self.read_http_response(timeout=timeout)
        self.response = resp
        if check:
            check_upgrade_response(resp, key)
        return resp

    # -- WebSocket frames ----------------------------------------------------
    def recv_frame(self, timeout=DEFAULT_TIMEOUT, strict=True):
        """Read one server frame. With strict=True, RFC violations by the
        server raise ServerProtocolViolation."""
        deadline = time.monotonic() + timeout
        hdr = self.read_exact(2, deadline=deadline)
        b0, b1 = hdr[0], hdr[1]
        fin = bool(b0 & 0x80)
        rsv = (b0 >> 4) & 7
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        form = "7"
        if length == 126:
            ext = self.read_exact(2, deadline=deadline)
            hdr += ext
            length = struct.unpack("!H", ext)[0]
            form = "16"
        elif length == 127:
            ext = self.read_exact(8, deadline=deadline)
            hdr += ext
            length = struct.unpack("!Q", ext)[0]
            form = "64"
        mkey = None
        if masked:
            mkey = self.read_exact(4, deadline=deadline)
            hdr += mkey
        if length > (1 << 31):
            raise ServerProtocolViolation("absurd frame length %d (header %r)" % (length, hdr))
        payload = self.read_exact(length, deadline=deadline)
        if masked:
            payload = mask_payload(payload, mkey)
        f = Frame(fin, rsv, opcode, masked, payload, form, hdr)
        if strict:
            check_server_frame(f)
        return f

    def recv_message(self, timeout=DEFAULT_TIMEOUT, strict=True):
        """Return (opcode, payload) of the next complete data message, or of
        the next control frame if one arrives first (fragment state is kept)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(timeout=max(0.0, deadline - time.monotonic()), strict=strict)
            if f.opcode >= 0x8:
                return f.opcode, f.payload
            if f.opcode == OP_CONT:
                if self._frag_op is None:
                    raise ServerProtocolViolation("server sent continuation without start: %r" % f)
                self._frag_data += f.payload
            else:
                if self._frag_op is not None:
                    raise ServerProtocolViolation("server started new message inside fragmented one: %r" % f)
                self._frag_op = f.opcode
                self._frag_data = bytearray(f.payload)
            if f.fin:
                op, data = self._frag_op, bytes(self._frag_data)
                self._frag_op = None
                self._frag_data = bytearray()
                if op == OP_TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ServerProtocolViolation("server sent invalid UTF-8 text message")
                return op, data

    def expect_message(self, opcode, payload, timeout=DEFAULT_TIMEOUT):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        op, data = self.recv_message(timeout=timeout)
        assert op == opcode, "expected opcode 0x%x, got 0x%x (payload %r)" % (opcode, op, data[:80])
        assert data == payload, "payload mismatch: got %d bytes %r..., expected %d bytes %r..." % (
            len(data), data[:40], len(payload), payload[:40])
        return data

    def echo(self, opcode, payload, timeout=DEFAULT_TIMEOUT):
        """Send a single-frame message and assert the echo comes back."""
        self.send_frame(opcode, payload)
        return self.expect_message(opcode, payload, timeout=timeout)

    def expect_close(self, timeout=DEFAULT_TIMEOUT, allow_data=False, skip_pings=False):
        """Read frames until a close frame; return it. Data frames before the
        close are an error unless allow_data; server pings unless skip_pings."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.recv_frame(timeout=max(0.0, deadline - time.monotonic()))
            except ConnectionClosed as e:
                raise AssertionError("TCP connection closed (%s) without a close frame "
                                     "(leftover bytes %r)" % (e, e.partial[:40])) from None
            except ReadTimeout:
                raise AssertionError("no close frame from server within %.1fs" % timeout) from None
            if f.opcode == OP_CLOSE:
                return f
            if skip_pings and f.opcode == OP_PING:
                continue
            if not f.fin and f.opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                continue  # streamed echo: fragments of a message the close cuts short
            if not allow_data:
                raise AssertionError("expected close frame, got %r" % f)

    def expect_close_code(self, code, timeout=DEFAULT_TIMEOUT, allow_data=False):
        f = self.expect_close(timeout=timeout, allow_data=allow_data)
        assert f.close_code == code, "expected close code %r, got %r (payload %r)" % (
            code, f.close_code, f.payload)
        return f

    def expect_fail(self, code, timeout=DEFAULT_TIMEOUT):
        """The server must fail the connection: close frame with `code`, then
        close TCP promptly without waiting for our close reply."""
        f = self.expect_close_code(code, timeout=timeout)
        try:
            self.assert_tcp_closed(timeout=PROMPT_CLOSE_TIMEOUT)
        except AssertionError as e:
            raise AssertionError(
                "server sent close %d but did not close the TCP connection within %.1fs; "
                "when failing a connection it must not wait for the client's close reply "
                "(RFC 6455 7.1.7)" % (code, PROMPT_CLOSE_TIMEOUT)) from None
        return f

    def assert_tcp_closed(self, timeout=PROMPT_CLOSE_TIMEOUT):
        """Assert the server closes the TCP connection (EOF or RST) within
        the timeout, without sending any further bytes."""
        if self.buf:
            raise AssertionError("unexpected bytes from server before TCP close: %r" % bytes(self.buf[:80]))
        deadline = time.monotonic() + timeout
        try:
            self._fill(deadline)
        except ConnectionClosed:
            return self.eof_reason
        except ReadTimeout:
            raise AssertionError("server did not close the TCP connection within %.1fs"
                                 % timeout) from None
        raise AssertionError("unexpected bytes from server instead of TCP close: %r" % bytes(self.buf[:80]))

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """Wait for TCP close, discarding any data. Return True if closed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
                self.buf.clear()
            except ConnectionClosed:
                return True
            except ReadTimeout:
                return False

    def expect_fragments(self, payload, timeout=DEFAULT_TIMEOUT):
        """Streamed echo: `payload` comes back at once as non-final fragments of the message
        in progress (the message's first frame with its opcode, then continuations)."""
        deadline = time.monotonic() + timeout
        got = b""
        while len(got) < len(payload):
            f = self.recv_frame(timeout=max(0.0, deadline - time.monotonic()))
            assert f.opcode in (OP_TEXT, OP_BINARY, OP_CONT) and not f.fin, (
                "expected a non-final fragment, got %r" % f)
            got += f.payload
        assert got == payload, "fragments %r, expected %r" % (got[:80], payload[:80])

    def assert_no_data(self, timeout=0.3):
        """Assert nothing arrives and the connection stays open for timeout."""
        if self.buf:
            raise AssertionError("unexpected buffered bytes: %r" % bytes(self.buf[:80]))
        deadline = time.monotonic() + timeout
        try:
            self._fill(deadline)
        except ReadTimeout:
            return
        except ConnectionClosed as e:
            raise AssertionError("connection unexpectedly closed: %s" % e)
        raise AssertionError("unexpected data: %r" % bytes(self.buf[:80]))

    def close_handshake(self, code=1000, timeout=DEFAULT_TIMEOUT, skip_pings=False):
        """Client-initiated clean close: send close, expect close echo and TCP close."""
        self.send(close(code))
        f = self.expect_close(timeout=timeout, skip_pings=skip_pings)
        assert f.close_code == code, "close reply code %r, expected %r" % (f.close_code, code)
        self.assert_tcp_closed(timeout=PROMPT_CLOSE_TIMEOUT)
        return f


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

def check_server_frame(f):
    if f.masked:
        raise ServerProtocolViolation("server frame is masked: %r" % f)
    if f.rsv:
        raise ServerProtocolViolation("server frame has RSV bits set: %r" % f)
    if f.opcode not in KNOWN_OPCODES:
        raise ServerProtocolViolation("server frame has reserved opcode: %r" % f)
    n = len(f.payload)
    shortest = "7" if n <= 125 else ("16" if n <= 0xFFFF else "64")
    if f.length_form != shortest:
        raise ServerProtocolViolation(
            "server frame length %d uses %s-bit form, shortest is %s-bit (header %r)"
            % (n, f.length_form, shortest, f.header))
    if f.opcode >= 0x8:
        if not f.fin:
            raise ServerProtocolViolation("server sent fragmented control frame: %r" % f)
        if n > 125:
            raise ServerProtocolViolation("server control frame payload > 125: %r" % f)
        if f.opcode == OP_CLOSE:
            if n == 1:
                raise ServerProtocolViolation("server close frame with 1-byte payload")
            if n >= 2:
                try:
                    f.payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise ServerProtocolViolation("server close reason is not UTF-8: %r" % f)


def check_upgrade_response(resp, key):
    assert resp.status == 101, "expected 101, got %r" % (resp,)
    assert resp.version == "HTTP/1.1", resp
    assert "websocket" in resp.tokens("upgrade"), "Upgrade header: %r" % resp.get_all("upgrade")
    assert "upgrade" in resp.tokens("connection"), "Connection header: %r" % resp.get_all("connection")
    assert resp.get_all("sec-websocket-accept") == [accept_for(key)], (
        "Sec-WebSocket-Accept %r, expected %r" % (resp.get_all("sec-websocket-accept"), accept_for(key)))
    assert not resp.has("sec-websocket-extensions"), "server negotiated extensions: %r" % resp


def open_ws(host, port, path="/echo", timeout=DEFAULT_TIMEOUT, **kw):
    ws = RawWS(host, port, timeout=timeout, **kw)
    try:
        ws.handshake(path=path, timeout=timeout)
    except BaseException:
        ws.close_socket()
        raise
    return ws


def http_request(host, port, request, timeout=DEFAULT_TIMEOUT):
    """Send raw request bytes on a new connection and read one response.
    Returns (response, conn) - caller closes conn."""
    c = RawWS(host, port, timeout=timeout)
    try:
        c.send(request)
        resp = c.read_http_response(timeout=timeout)
    except BaseException:
        c.close_socket()
        raise
    return resp, c


def get(host, port, path, timeout=DEFAULT_TIMEOUT, extra_headers=()):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port)]
    lines += ["%s: %s" % h for h in extra_headers]
    req = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return http_request(host, port, req, timeout=timeout)


def wait_readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def check_error_response(resp, conn, status, close_timeout=PROMPT_CLOSE_TIMEOUT):
    """An HTTP error response must have a proper status line, a short
    non-empty body, 'Connection: close', and the server must then close."""
    assert resp.status == status, "expected HTTP %d, got %d (%r)" % (status, resp.status, resp)
    assert resp.reason.strip(), "status line has no reason phrase: %r" % resp.raw_head[:100]
    assert "close" in resp.tokens("connection"), "error response lacks 'Connection: close': %r" % resp
    assert 0 < len(resp.body) <= 4096, "error body should be short and non-empty, got %d bytes: %r" % (
        len(resp.body), resp.body[:200])
    cl = resp.get("content-length")
    if cl is not None:
        assert int(cl) == len(resp.body)
    assert not resp.has("sec-websocket-accept"), resp
    # and then the server closes the TCP connection
    if not conn.eof:
        conn.assert_tcp_closed(timeout=close_timeout)


def parse_frames(buf, strict=True):
    """Pop all complete server frames from the bytearray `buf`; return a list
    of Frame. Incomplete trailing data stays in buf."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        hl = 2
        form = "7"
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", bytes(buf[2:4]))[0]
            hl = 4
            form = "16"
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", bytes(buf[2:10]))[0]
            hl = 10
            form = "64"
        masked = bool(b1 & 0x80)
        if masked:
            hl += 4
        if len(buf) < hl + n:
            break
        header = bytes(buf[:hl])
        payload = bytes(buf[hl:hl + n])
        if masked:
            payload = mask_payload(payload, header[-4:])
        del buf[:hl + n]
        f = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload, form, header)
        if strict:
            check_server_frame(f)
        out.append(f)
    return out


def messages(on_message):
    """A frame callback that hands `on_message` whole messages: streamed echo sends a message
    that spans the server's reads as fragments (first frame with the opcode, continuations
    after). The message comes as one Frame with FIN set and the first frame's header byte
    made final; control frames pass through as they are."""
    state = {"first": None, "data": bytearray()}

    def on_frame(f):
        if f.opcode >= 0x8:
            return on_message(f)
        if f.opcode == OP_CONT:
            if state["first"] is None:
                raise ServerProtocolViolation("continuation without a message: %r" % f)
        else:
            if state["first"] is not None:
                raise ServerProtocolViolation("new message inside a fragmented one: %r" % f)
            state["first"] = f
        state["data"] += f.payload
        if not f.fin:
            return None
        first, data = state["first"], bytes(state["data"])
        state["first"], state["data"] = None, bytearray()
        header = bytes([first.header[0] | 0x80]) + first.header[1:]
        return on_message(Frame(True, first.rsv, first.opcode, first.masked, data,
                                first.length_form, header))

    return on_frame


def pump(sock, out, on_frame, done, deadline, read_delay=0.0, read_size=1 << 20):
    """Non-blocking loop: write `out` (bytearray, consumed) whenever the
    socket is writable, read whenever readable (sleeping read_delay before
    each read to simulate a slow reader), call on_frame(frame) for every
    server frame, until done() or the deadline (AssertionError)."""
    sock.setblocking(False)
    buf = bytearray()
    try:
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("pump: deadline exceeded (%d bytes left to send)" % len(out))
            r, w, _ = select.select([sock], [sock] if out else [], [], 0.5)
            if w and out:
                try:
                    n = sock.send(out)
                    del out[:n]
                except BlockingIOError:
                    pass
            if r:
                if read_delay:
                    time.sleep(read_delay)
                try:
                    data = sock.recv(read_size)
                except BlockingIOError:
                    continue
                if not data:
                    raise ConnectionClosed("server closed the connection", buf)
                buf += data
                for f in parse_frames(buf):
                    on_frame(f)
    finally:
        sock.setblocking(True)
    return buf
