"""Scale and robustness: many concurrent clients, backpressure / memory
bound for a client that never reads."""

import asyncio
import os
import random
import select
import socket
import struct
import time

import pytest
import websockets

import wsraw
from wsraw import OP_BINARY, OP_TEXT

KIB = 1024
MIB = 1024 * 1024


# --------------------------------------------------------------------------
# 1000 concurrent clients
# --------------------------------------------------------------------------

N_CLIENTS = 1000
MSGS_PER_CLIENT = 20


async def _many_clients(uri, n, msgs_per_client):
    connect_sem = asyncio.Semaphore(100)
    conns = [None] * n
    errors = []

    async def connect(i):
        async with connect_sem:
            conns[i] = await asyncio.wait_for(
                websockets.connect(uri, max_size=None, ping_interval=None, close_timeout=10,
                                   compression=None, open_timeout=30), 40)

    await asyncio.gather(*(connect(i) for i in range(n)))
    assert all(c is not None and c.open for c in conns)

    rnd = random.Random(1234)
    plans = []
    for i in range(n):
        msgs = []
        for j in range(msgs_per_client):
            size = rnd.choice([0, 1, 10, 125, 126, 500, 2000, 5000])
            if (i + j) % 2:
                msgs.append(bytes((i * 31 + j * 7 + k) & 0xFF for k in range(size)))
            else:
                msgs.append(("c%d-m%d-" % (i, j) + "é" * size)[:max(size, 1)])
        plans.append(msgs)

    verified = [0] * n
    go = asyncio.Event()

    async def talk(i):
        await go.wait()
        ws = conns[i]
        for m in plans[i]:
            await ws.send(m)
            r = await asyncio.wait_for(ws.recv(), 60)
            if type(r) is not type(m) or r != m:
                errors.append("client %d: mismatch (sent %s len %d, got %s len %d)"
                              % (i, type(m).__name__, len(m), type(r).__name__, len(r)))
                return
            verified[i] += 1

    tasks = [asyncio.ensure_future(talk(i)) for i in range(n)]
    go.set()  # all n connections are open at this point: truly concurrent
    await asyncio.gather(*tasks)
    still_open = sum(1 for c in conns if c.open)

    close_sem = asyncio.Semaphore(200)

    async def close(i):
        async with close_sem:
            await conns[i].close(1000)
            return conns[i].close_code

    codes = await asyncio.gather(*(close(i) for i in range(n)))
    return errors, verified, still_open, codes


@pytest.mark.timeout(180)
def test_thousand_concurrent_clients(server_factory):
    s = server_factory("--max-connections", "5000", "--drain-timeout", "5s")
    uri = "ws://%s:%d/echo" % (s.host, s.port)
    t0 = time.monotonic()
    errors, verified, still_open, codes = asyncio.run(
        asyncio.wait_for(_many_clients(uri, N_CLIENTS, MSGS_PER_CLIENT), 150))
    elapsed = time.monotonic() - t0
    assert not errors, errors[:10]
    assert sum(verified) == N_CLIENTS * MSGS_PER_CLIENT, "verified %d of %d" % (
        sum(verified), N_CLIENTS * MSGS_PER_CLIENT)
    assert still_open == N_CLIENTS
    assert all(c == 1000 for c in codes), {c for c in codes}
    print("1000 clients x %d msgs in %.1fs" % (MSGS_PER_CLIENT, elapsed))
    # the server is still healthy
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_TEXT, "after the crowd")
        ws.close_handshake()


@pytest.mark.timeout(120)
def test_raw_concurrent_pipelined_clients(server_factory):
    """300 raw clients, each pipelining 50 messages of mixed sizes in one
    write; all echoes verified in order."""
    s = server_factory("--max-connections", "5000", "--drain-timeout", "5s")
    n = 300
    conns = [wsraw.open_ws(s.host, s.port, timeout=20) for _ in range(n)]
    try:
        payloads = []
        for i, ws in enumerate(conns):
            msgs = [os.urandom(random.randint(0, 3000)) for _ in range(50)]
            payloads.append(msgs)
            ws.send(b"".join(wsraw.binary(m) for m in msgs))
        for i, ws in enumerate(conns):
            for m in payloads[i]:
                ws.expect_message(OP_BINARY, m, timeout=30)
        for ws in conns:
            ws.send(wsraw.close(1000))
        for ws in conns:
            assert ws.expect_close(timeout=20).close_code == 1000
            ws.assert_tcp_closed(timeout=20)
    finally:
        for ws in conns:
            ws.close_socket()


# --------------------------------------------------------------------------
# backpressure: a client that writes but never reads
# --------------------------------------------------------------------------

MSG_SIZE = 16 * KIB
TARGET_BYTES = 50 * MIB
PENDING_CAP = 256 * KIB
RSS_GROWTH_LIMIT_KIB = 16 * 1024


def _payload(i, block):
    return struct.pack("!Q", i) + block[8:]


@pytest.mark.timeout(150)
def test_slow_reader_backpressure_bounds_memory(server_factory):
    s = server_factory("--max-pending-bytes", "256KiB", "--drain-timeout", "3s",
                       env={"ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                                             ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
                                             ).lstrip(":")})
    block = os.urandom(MSG_SIZE)
    idle_fds = s.open_fds()

    # warm-up: a well-behaved client pushes some MiB through the server so
    # buffer pools etc. are allocated before the baseline is taken
    with wsraw.open_ws(s.host, s.port) as ws:
        for i in range(128):
            p = _payload(i, block)
            ws.send(wsraw.binary(p))
            ws.expect_message(OP_BINARY, p)
        ws.close_handshake()
    s.wait_open_fds(idle_fds)  # the warm-up connection is released, its buffers returned
    baseline = s.rss_kib()

    ws = wsraw.open_ws(s.host, s.port, sndbuf=256 * KIB, rcvbuf=256 * KIB)
    try:
        sock = ws.sock
        mask = b"\x5a\xa5\x3c\xc3"
        # Phase 1: write as much as possible without ever reading.
        sent_total, next_msg, stalled, max_rss, out = _flood_until_stall(
            s, ws, lambda i: wsraw.build_frame(OP_BINARY, _payload(i, block), mask_key=mask),
            TARGET_BYTES)
        max_rss = max(max_rss, baseline)
        growth = max_rss - baseline
        print("sent %.1f MiB before stall=%s; RSS baseline %d KiB, max %d KiB (growth %d KiB)"
              % (sent_total / MIB, stalled, baseline, max_rss, growth))
        assert stalled, ("client could write %.1f MiB without the server applying backpressure"
                         % (sent_total / MIB))
        assert sent_total < TARGET_BYTES
        assert growth < RSS_GROWTH_LIMIT_KIB, (
            "server RSS grew by %d KiB (> %d KiB) for a client that does not read "
            "(--max-pending-bytes 256KiB)" % (growth, RSS_GROWTH_LIMIT_KIB))

        # The server must still serve other clients while this one is stuck.
        with wsraw.open_ws(s.host, s.port) as other:
            other.echo(OP_BINARY, block)
            other.echo(OP_TEXT, "not blocked by a slow reader")
            other.close_handshake()

        # Phase 2: start reading. Every message that was (fully or partly)
        # written must come back, complete and in order; the unsent rest of `out`
        # goes out meanwhile.
        ws.buf.clear()
        expected_msgs = next_msg
        got = [0]

        def on_frame(f):
            assert not f.masked, "masked server frame"
            assert f.header[0] == 0x82, "unexpected frame header 0x%02x" % f.header[0]
            assert f.payload == _payload(got[0], block), "echo %d corrupted/out of order" % got[0]
            got[0] += 1

        ws.buf += wsraw.pump(sock, out, wsraw.messages(on_frame), lambda: got[0] == expected_msgs,
                             time.monotonic() + 60)
        sock.settimeout(10)
        ws.close_handshake()
    finally:
        ws.close_socket()

    # a fresh client is served normally
    with wsraw.open_ws(s.host, s.port) as ws2:
        ws2.echo(OP_BINARY, os.urandom(100000))
        ws2.close_handshake()


@pytest.mark.timeout(120)
def test_slow_reader_abandoned_then_server_recovers(server_factory):
    """A non-reading client that just disconnects while the server holds
    pending output must not leak or wedge the server."""
    s = server_factory("--max-pending-bytes", "256KiB", "--drain-timeout", "3s")
    block = os.urandom(MSG_SIZE)
    idle_fds = s.open_fds()
    for round_ in range(3):
        ws = wsraw.open_ws(s.host, s.port, sndbuf=128 * KIB, rcvbuf=128 * KIB)
        ws.sock.setblocking(False)
        data = memoryview(b"".join(wsraw.binary(_payload(i, block)) for i in range(256)))
        pos = 0
        t_end = time.monotonic() + 1.5
        while pos < len(data) and time.monotonic() < t_end:
            _, w, _ = select.select([], [ws.sock], [], 0.2)
            if not w:
                continue
            try:
                pos += ws.sock.send(data[pos:])
            except BlockingIOError:
                continue
        if round_ % 2:
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        ws.close_socket()
    s.wait_open_fds(idle_fds)  # every abandoned connection is released despite its pending output
    with wsraw.open_ws(s.host, s.port) as ws2:
        for i in range(10):
            ws2.echo(OP_BINARY, _payload(i, block))
        ws2.close_handshake()
    resp, conn = wsraw.get(s.host, s.port, "/health")
    conn.close_socket()
    assert resp.status == 200


@pytest.mark.timeout(90)
def test_message_larger_than_pending_cap_still_echoes(server_factory):
    """A single message bigger than --max-pending-bytes must not deadlock."""
    s = server_factory("--max-pending-bytes", "64KiB", "--drain-timeout", "3s")
    with wsraw.open_ws(s.host, s.port) as ws:
        for size in (64 * KIB - 1, 64 * KIB + 1, 300 * KIB, MIB):
            ws.echo(OP_BINARY, os.urandom(size), timeout=20)
        ws.close_handshake()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("msg_size,count", [(100 * KIB, 30), (1000, 3000)])
def test_slow_but_reading_client_gets_everything(server_factory, msg_size, count):
    """Client pipelines a lot while reading slowly: backpressure must pause
    and resume without losing, duplicating or reordering anything."""
    s = server_factory("--max-pending-bytes", "64KiB", "--drain-timeout", "3s")
    ws = wsraw.open_ws(s.host, s.port, sndbuf=64 * KIB, rcvbuf=64 * KIB)
    try:
        base = os.urandom(msg_size)
        msgs = [struct.pack("!I", i) + base[4:] for i in range(count)]
        out = bytearray(b"".join(wsraw.binary(m) for m in msgs))
        got = []

        def on_frame(f):
            assert f.opcode == OP_BINARY and f.fin, f
            i = len(got)
            assert f.payload == msgs[i], "echo %d differs (len %d)" % (i, len(f.payload))
            got.append(i)

        left = wsraw.pump(ws.sock, out, wsraw.messages(on_frame), lambda: len(got) == count,
                          time.monotonic() + 90, read_delay=0.002, read_size=16 * KIB)
        assert len(got) == count
        ws.buf += left
        ws.close_handshake()
    finally:
        ws.close_socket()


def _flood_until_stall(s, ws, next_frame, target_bytes, max_seconds=40, stall_seconds=3.0):
    """Write frames from next_frame() without reading until the socket stays
    unwritable for stall_seconds, target_bytes were written, or max_seconds.
    Returns (sent_bytes, frames_built, stalled, max_rss_kib, unsent bytearray)."""
    sock = ws.sock
    sock.setblocking(False)
    out = bytearray()
    built = 0
    sent = 0
    max_rss = s.rss_kib()
    last_progress = time.monotonic()
    t_end = time.monotonic() + max_seconds
    last_sample = 0.0
    stalled = False
    while sent < target_bytes and time.monotonic() < t_end:
        while len(out) < 64 * KIB:
            out += next_frame(built)
            built += 1
        now = time.monotonic()
        if now - last_sample > 0.05:
            max_rss = max(max_rss, s.rss_kib())
            last_sample = now
        _, w, _ = select.select([], [sock], [], 0.1)
        if not w:
            if time.monotonic() - last_progress > stall_seconds:
                stalled = True
                break
            continue
        try:
            n = sock.send(out)
        except BlockingIOError:
            continue
        del out[:n]
        sent += n
        last_progress = time.monotonic()
    for _ in range(10):
        max_rss = max(max_rss, s.rss_kib())
        time.sleep(0.05)
    sock.setblocking(True)
    return sent, built, stalled, max_rss, out


@pytest.mark.timeout(150)
def test_ping_flood_without_reading_bounds_memory(server_factory):
    """Pongs are output too: a client that floods pings and never reads must
    hit backpressure instead of making the server queue pongs without bound."""
    s = server_factory("--max-pending-bytes", "256KiB", "--drain-timeout", "3s",
                       env={"ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                                             ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
                                             ).lstrip(":")})
    filler = b"p" * 117
    mask = b"\x01\x02\x03\x04"

    def ping_frame(i):
        return wsraw.build_frame(wsraw.OP_PING, struct.pack("!Q", i) + filler, mask_key=mask)

    # warm-up with a reading client
    idle_fds = s.open_fds()
    with wsraw.open_ws(s.host, s.port) as w:
        w.send(b"".join(ping_frame(i) for i in range(2000)))
        for i in range(2000):
            f = w.recv_frame()
            assert f.opcode == wsraw.OP_PONG
        w.close_handshake()
    s.wait_open_fds(idle_fds)
    baseline = s.rss_kib()

    ws = wsraw.open_ws(s.host, s.port, sndbuf=256 * KIB, rcvbuf=256 * KIB)
    try:
        sent, built, stalled, max_rss, out = _flood_until_stall(s, ws, ping_frame, 40 * MIB)
        growth = max_rss - baseline
        print("ping flood: sent %.1f MiB (%d pings) stalled=%s; RSS growth %d KiB"
              % (sent / MIB, built, stalled, growth))
        assert growth < RSS_GROWTH_LIMIT_KIB, (
            "server RSS grew by %d KiB while a client flooded %.1f MiB of pings without reading"
            % (growth, sent / MIB))
        assert stalled, "client wrote %.1f MiB of pings without backpressure" % (sent / MIB)

        # others are still served
        with wsraw.open_ws(s.host, s.port) as other:
            other.echo(OP_TEXT, "not starved by a ping flood")
            other.close_handshake()

        # now read: pongs answer pings in order (the RFC allows skipping
        # pongs for older pings, never reordering or inventing them), and the
        # last ping is answered.
        last = [-1]

        def on_frame(f):
            assert f.opcode == wsraw.OP_PONG, f
            assert len(f.payload) == 125 and f.payload[8:] == filler, f
            i = struct.unpack("!Q", f.payload[:8])[0]
            assert i > last[0], "pong %d after pong %d" % (i, last[0])
            last[0] = i

        left = wsraw.pump(ws.sock, out, on_frame, lambda: last[0] == built - 1,
                          time.monotonic() + 60)
        ws.buf += left
        ws.close_handshake()
    finally:
        ws.close_socket()


@pytest.mark.timeout(120)
def test_fairness_under_flood(server_factory):
    """A client pushing data as fast as it can must not starve another
    client's round trips."""
    import threading
    s = server_factory("--drain-timeout", "3s")
    flood = wsraw.open_ws(s.host, s.port)
    payload = os.urandom(64 * KIB)
    frame = wsraw.binary(payload, mask_key=b"\x00\x00\x00\x00")
    flood_seconds = 2.5
    errors = []
    got = [0]
    queued = [0]

    def flood_run():
        try:
            sock = flood.sock
            sock.setblocking(False)
            out = bytearray()
            buf = bytearray()
            echoes = []
            to_message = wsraw.messages(echoes.append)
            t_stop = time.monotonic() + flood_seconds
            deadline = time.monotonic() + 60
            while True:
                now = time.monotonic()
                assert now < deadline, "flood did not finish"
                if now < t_stop and len(out) < MIB:
                    out += frame * 16
                    queued[0] += 16
                elif now >= t_stop and not out and got[0] == queued[0]:
                    break
                r, w, _ = select.select([sock], [sock] if out else [], [], 0.5)
                if w and out:
                    try:
                        del out[:sock.send(out)]
                    except BlockingIOError:
                        pass
                if r:
                    try:
                        data = sock.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    assert data, "flood connection closed by server"
                    buf += data
                    for f in wsraw.parse_frames(buf):
                        to_message(f)
                    for f in echoes:
                        if f.payload != payload:
                            errors.append("flood echo %d corrupted" % got[0])
                            return
                        got[0] += 1
                    echoes.clear()
            sock.setblocking(True)
        except BaseException as e:  # noqa
            errors.append(repr(e))

    t = threading.Thread(target=flood_run, daemon=True)
    try:
        with wsraw.open_ws(s.host, s.port) as ws:
            t.start()
            worst = 0.0
            rounds = 0
            while t.is_alive() and rounds < 1000:
                t0 = time.monotonic()
                ws.echo(OP_TEXT, "ping-pong %d" % rounds)
                worst = max(worst, time.monotonic() - t0)
                rounds += 1
                time.sleep(0.01)
            t.join(100)
            assert not t.is_alive()
            assert not errors, errors
            assert got[0] == queued[0]
            print("fairness: %d round trips during a %.1f MiB flood, worst %.3fs"
                  % (rounds, queued[0] * len(payload) / MIB, worst))
            assert rounds >= 20, "only %d round trips completed during the flood" % rounds
            assert worst < 1.0, "round trip took %.2fs while another client flooded" % worst
            ws.close_handshake()
        flood.sock.settimeout(10)
        flood.close_handshake()
    finally:
        flood.close_socket()
