"""wss:// end to end (issue 15): the real server with --tls-port, against python's ssl module
(RawWS over TLS for byte-exact checks, python3-websockets as a real client) and
millionws-load: echo, versions, ALPN, resumption, bad input on the TLS port (plain HTTP, a
plain upgrade, a broken ClientHello, garbage, silence), certificate reload with SIGHUP under
load, bad pairs refused at start, and what /metrics and /health say about TLS.
"""

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import tlsutil
import wsraw
from conftest import Server, _attach, _check_stopped, free_port, http_get
from wsraw import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return {
        "dir": d,
        "a": tlsutil.make_pair(d, "a", cn="alpha"),
        "b": tlsutil.make_pair(d, "b", cn="bravo"),
        "expired": tlsutil.make_pair(d, "expired", not_before_days=-30, not_after_days=-1),
        "future": tlsutil.make_pair(d, "future", not_before_days=2, not_after_days=30),
    }


class _TlsServers:
    def __init__(self, binary, logdir, request):
        self.binary, self.logdir, self.request = binary, logdir, request
        self.servers = []

    def start(self, cert, key, *flags, admin=True, env=None):
        s = Server(self.binary, ["--tls-port", "0", "--tls-cert", cert, "--tls-key", key]
                   + list(flags), self.logdir, env=env)
        if admin:
            i = s.args.index("--admin-port")
            s.args[i + 1] = str(free_port())
            s.args += ["--admin-bind", "127.0.0.1"]
        self.servers.append(s)
        s.start()
        _attach(self.request, s)
        s.admin_port = int(s.args[s.args.index("--admin-port") + 1]) if admin else None
        s.tls_port = tlsutil.tls_port(s)
        return s


@pytest.fixture
def tls_servers(binary, logdir, request):
    fac = _TlsServers(binary, logdir, request)
    yield fac
    problems = []
    for s in fac.servers:
        already_exited = s.proc is not None and s.proc.poll() is not None
        s.stop()
        problems += ["%r: %s" % (s, p) for p in _check_stopped(s, expect_clean=not already_exited)]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def tls_server(tls_servers, pki):
    return tls_servers.start(*pki["a"])


def metrics(server):
    status, body = http_get(server.admin_port, "/metrics")
    assert status == 200
    return body.decode()


def metric(text, name, **labels):
    """The value of one sample (0 if absent)."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


def wait_metric(server, name, at_least, timeout=5.0, **labels):
    """The sample once it reaches at_least: a reactor counts an event a moment after the
    client sees its effect (the alert or the close is out first), so a scrape may come first."""
    deadline = time.monotonic() + timeout
    while True:
        value = metric(metrics(server), name, **labels)
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def trusted(pki, pair="a", **kw):
    return tlsutil.client_context(cafile=pki[pair][0], **kw)


# --- Echo over wss:// -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300000])
def test_raw_echo_over_tls(tls_server, pki, size):
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=trusted(pki)) as c:
        c.handshake()
        payload = os.urandom(size)
        c.echo(OP_BINARY, payload, timeout=10)
        text = ("é" * (size // 2)).encode()
        c.echo(OP_TEXT, text, timeout=10)
        c.send_frame(OP_CLOSE, wsraw.close_payload(1000))
        assert c.expect_close_code(1000).close_code == 1000
        c.assert_tcp_closed(timeout=wsraw.PROMPT_CLOSE_TIMEOUT)


def test_fragments_pings_and_a_protocol_error_over_tls(tls_server, pki):
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=trusted(pki)) as c:
        c.handshake()
        c.send_frame(OP_TEXT, b"frag", fin=False)
        c.send_frame(OP_PING, b"in between")
        assert c.recv_message() == (OP_PONG, b"in between")
        c.send_frame(wsraw.OP_CONT, b"mented", fin=True)
        c.expect_message(OP_TEXT, b"fragmented")
        # One byte per TLS record: the record layer reassembles frames across records.
        c.send_slowly(wsraw.text(b"slow and steady"), chunk=1, delay=0)
        c.expect_message(OP_TEXT, b"slow and steady")
        c.send_frame(OP_TEXT, b"unmasked", mask=False)
        c.expect_fail(1002)


def test_python_websockets_client_over_wss(tls_server, pki):
    async def run():
        uri = "wss://localhost:%d/echo" % tls_server.tls_port
        async with websockets.connect(uri, ssl=trusted(pki), max_size=None) as ws:
            for message in ["hello", "ü" * 40000, b"\x00\x01" * 70000]:
                await ws.send(message)
                assert await ws.recv() == message
            pong = await ws.ping(b"p")
            await asyncio.wait_for(pong, 5)
            ssl_object = ws.transport.get_extra_info("ssl_object")
            return ssl_object.version(), ssl_object.selected_alpn_protocol()

    version, alpn = asyncio.run(run())
    assert version == "TLSv1.3"
    assert alpn == "http/1.1"


def test_health_over_https_on_the_tls_port(tls_server, pki):
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=trusted(pki)) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        resp = c.read_http_response()
        assert resp.status == 200


# --- Versions, ALPN, resumption -----------------------------------------------------------


def test_tls12_is_served_and_tls11_refused_with_an_alert(tls_server, pki):
    ctx12 = trusted(pki, maximum=ssl.TLSVersion.TLSv1_2)
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=ctx12) as c:
        assert c.sock.version() == "TLSv1.2"
        c.handshake()
        c.echo(OP_TEXT, b"over TLS 1.2")
    old = tlsutil.client_context(minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as e:
        tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=old)
    assert "PROTOCOL_VERSION" in str(e.value).upper() or "UNSUPPORTED" in str(e.value).upper()
    assert wait_metric(tls_server, "millionws_tls_handshake_failures_total", 1,
                       reason="protocol_version") >= 1
    assert wait_metric(tls_server, "millionws_tls_handshakes_total", 1, version="TLSv1.2",
                       resumed="false") >= 1


def test_resumption_with_a_ticket(tls_server, pki):
    ctx = trusted(pki)
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=ctx) as c:
        c.handshake()  # reading the 101 takes in the TLS 1.3 ticket too
        session = c.sock.session
        assert not c.sock.session_reused
    assert session is not None and session.has_ticket
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=ctx, session=session) as c:
        assert c.sock.session_reused
        c.handshake()
        c.echo(OP_BINARY, b"resumed")
    assert wait_metric(tls_server, "millionws_tls_handshakes_total", 1, version="TLSv1.3",
                       resumed="true") >= 1


# --- Bad input on the TLS port ------------------------------------------------------------


@pytest.mark.parametrize("request_text", [
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
])
def test_plain_http_on_the_tls_port_gets_a_plain_400(tls_server, request_text):
    with wsraw.RawWS(tls_server.host, tls_server.tls_port, tls=False) as c:
        c.send(request_text)
        resp = c.read_http_response()
        assert resp.status == 400
        assert b"TLS" in resp.body
        c.assert_tcp_closed(timeout=wsraw.PROMPT_CLOSE_TIMEOUT)
    assert wait_metric(tls_server, "millionws_tls_handshake_failures_total", 1,
                       reason="plain_http") >= 1


def test_a_broken_client_hello_gets_an_alert_then_close(tls_server):
    with wsraw.RawWS(tls_server.host, tls_server.tls_port, tls=False) as c:
        c.send(b"\x16\x03\x01\x00\x09\x01\x00\x00\x05\x03\x03\x00\x00\x00")
        answer = c.read_to_eof(timeout=5)
        assert answer[:1] == b"\x15", answer  # an alert record
        assert answer[5:6] == b"\x02", answer  # fatal
    assert wait_metric(tls_server, "millionws_tls_handshake_failures_total", 1,
                       reason="malformed") >= 1


def test_garbage_is_closed_and_the_server_goes_on(tls_server, pki):
    # Bytes that cannot begin a TLS record (a first byte of 0x80 or more could be an SSLv2
    # record header announcing up to 32 KiB: that case waits for the handshake timeout, as a
    # stalled ClientHello does, in the test below).
    for i in range(20):
        with wsraw.RawWS(tls_server.host, tls_server.tls_port, tls=False) as c:
            try:
                c.send(bytes([i]) + os.urandom(2000))
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.read_to_eof(timeout=5)
            assert c.eof
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=trusted(pki)) as c:
        c.handshake()
        c.echo(OP_TEXT, b"still serving")


def test_a_silent_or_stalled_handshake_times_out(tls_servers, pki):
    s = tls_servers.start(*pki["a"], "--handshake-timeout", "1s")
    t0 = time.monotonic()
    with wsraw.RawWS(s.host, s.tls_port, tls=False) as silent, \
            wsraw.RawWS(s.host, s.tls_port, tls=False) as stalled:
        stalled.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello begun
        silent.read_to_eof(timeout=6)
        stalled.read_to_eof(timeout=6)
    assert time.monotonic() - t0 < 5
    assert wait_metric(s, "millionws_tls_handshake_failures_total", 2, reason="timeout") >= 2
    assert wait_metric(s, "millionws_handshake_timeouts_total", 2) >= 2


# --- Certificates: start-up checks, reload, expiry ----------------------------------------


@pytest.mark.parametrize("case,expected", [
    ("expired", "expired on"),
    ("future", "is not valid before"),
    ("mismatch", "does not match the certificate"),
    ("missing", "cannot read the TLS key file"),
])
def test_bad_pairs_are_refused_at_start(binary, pki, case, expected):
    cert, key = {
        "expired": pki["expired"],
        "future": pki["future"],
        "mismatch": (pki["a"][0], pki["b"][1]),
        "missing": (pki["a"][0], str(pki["dir"] / "absent.pem")),
    }[case]
    p = subprocess.run([binary, "--port", "0", "--admin-port", "0", "--tls-port", "0",
                        "--tls-cert", cert, "--tls-key", key],
                       capture_output=True, timeout=20)
    assert p.returncode != 0
    out = (p.stdout + p.stderr).decode()
    assert expected in out, out


def test_tls_flags_need_each_other(binary, pki):
    p = subprocess.run([binary, "--port", "0", "--admin-port", "0", "--tls-port", "0"],
                       capture_output=True, timeout=20)
    assert p.returncode != 0
    assert "--tls-cert" in (p.stdout + p.stderr).decode()


def test_a_pending_cap_too_small_for_tls_reads_is_refused(binary, pki):
    # A TLS read decrypts two whole records in place: below 96 KiB, a connection that resumed
    # reading at half the cap could not read at all, so the combination is refused at start.
    cert, key = pki["a"]
    p = subprocess.run([binary, "--port", "0", "--admin-port", "0", "--tls-port", "0",
                        "--tls-cert", cert, "--tls-key", key, "--max-pending-bytes", "64KiB"],
                       capture_output=True, timeout=20)
    assert p.returncode == 2
    assert "--max-pending-bytes must be at least 98304 with --tls-port" in (
        p.stdout + p.stderr).decode()


def test_environment_variables_configure_tls(tls_servers, pki, binary, logdir, request):
    s = Server(binary, [], logdir, env={"MILLIONWS_TLS_PORT": "0",
                                        "MILLIONWS_TLS_CERT": pki["a"][0],
                                        "MILLIONWS_TLS_KEY": pki["a"][1]})
    tls_servers.servers.append(s)
    s.start()
    _attach(request, s)
    port = tlsutil.tls_port(s)
    assert tlsutil.peer_common_name(s.host, port) == "alpha"


def test_sighup_reloads_under_load_without_dropping_a_connection(tls_servers, pki, load_binary,
                                                                 tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(open(pki["a"][0], "rb").read())
    key.write_bytes(open(pki["a"][1], "rb").read())
    s = tls_servers.start(str(cert), str(key))
    assert tlsutil.peer_common_name(s.host, s.tls_port) == "alpha"
    held = [tlsutil.TlsRawWS(s.host, s.tls_port, ctx=trusted(pki)) for _ in range(20)]
    for c in held:
        c.handshake()
    # Load across the reloads: 200 connections, 50 of them echoing for 6 s.
    load = subprocess.Popen([load_binary, "--url", "wss://127.0.0.1:%d/echo" % s.tls_port,
                             "--insecure", "--connections", "200", "--mode", "closed",
                             "--echo-connections", "50", "--duration", "6", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(2)
        cert.write_bytes(open(pki["b"][0], "rb").read())
        key.write_bytes(open(pki["b"][1], "rb").read())
        s.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while tlsutil.peer_common_name(s.host, s.tls_port) != "bravo":
            assert time.monotonic() < deadline, "the new certificate is not served"
            time.sleep(0.05)
        # A broken pair: logged, and the one in use stays.
        key.write_bytes(open(pki["a"][1], "rb").read())
        s.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "does not match" not in s.log_text():
            assert time.monotonic() < deadline, "no reload failure logged"
            time.sleep(0.05)
        assert tlsutil.peer_common_name(s.host, s.tls_port) == "bravo"
        out, err = load.communicate(timeout=60)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    summary = json.loads(out)
    assert load.returncode == 0, (summary, err)
    assert summary["connections"]["failed"] == 0
    assert summary["echo"]["verify_errors"] == 0 and summary["echo"]["received"] > 0
    # The connections made before the reloads still echo, on their old keys.
    for c in held:
        c.echo(OP_TEXT, b"still here")
        c.close_socket()
    assert wait_metric(s, "millionws_tls_reloads_total", 1, result="ok") == 1
    assert wait_metric(s, "millionws_tls_reloads_total", 1, result="failed") == 1


def test_metrics_and_health_report_tls(tls_server, pki):
    with tlsutil.TlsRawWS(tls_server.host, tls_server.tls_port, ctx=trusted(pki)) as c:
        c.handshake()
        assert wait_metric(tls_server, "millionws_tls_connections_active", 1,
                           version="TLSv1.3") == 1
        c.echo(OP_TEXT, b"x")
    status, body = http_get(tls_server.admin_port, "/health")
    assert status == 200
    health = json.loads(body)
    expiry = health["tls"]["certificate_expiry_unix"]
    assert health["tls"]["serving"] is True
    assert 29 * 86400 < expiry - time.time() < 31 * 86400
    text = metrics(tls_server)
    assert metric(text, "millionws_tls_certificate_expiry_seconds") == expiry
    assert metric(text, "millionws_tls_handshake_duration_seconds_count") >= 1
    # The connection is gone: counted out again.
    deadline = time.monotonic() + 5
    while metric(metrics(tls_server), "millionws_tls_connections_active", version="TLSv1.3"):
        assert time.monotonic() < deadline, "a closed TLS connection is still counted"
        time.sleep(0.05)


def test_load_generator_over_wss_with_resumption(tls_server, load_binary):
    base = [load_binary, "--url", "wss://127.0.0.1:%d/echo" % tls_server.tls_port, "--insecure",
            "--quiet"]
    p = subprocess.run(base + ["--connections", "300", "--mode", "closed", "--echo-connections",
                               "30", "--duration", "2"], capture_output=True, timeout=120)
    summary = json.loads(p.stdout)
    assert p.returncode == 0, (summary, p.stderr)
    assert summary["tls"]["handshakes_full"] == 300
    assert summary["echo"]["received"] > 0 and summary["echo"]["verify_errors"] == 0
    p = subprocess.run(base + ["--connections", "50", "--max-inflight", "1", "--tls-resume"],
                       capture_output=True, timeout=120)
    summary = json.loads(p.stdout)
    assert p.returncode == 0, (summary, p.stderr)
    assert summary["tls"]["handshakes_resumed"] >= 45


def test_plain_ws_port_still_serves_alongside(tls_server):
    with wsraw.RawWS(tls_server.host, tls_server.port, tls=False) as c:
        c.handshake()
        c.echo(OP_TEXT, b"plain")
