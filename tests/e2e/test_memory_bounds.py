"""Issue 10.3: memory bounds that hold as documented (README "Memory bounds").

Clients that never read are the adversary: each one can make the server hold at most
--max-pending-bytes - 24 of unsent output in a block of --max-pending-bytes rounded up to a
power of two, and the process holds at most --max-buffer-memory of pooled buffers, resetting
the connections that hold the most when a reactor passes its share."""

import os
import select
import socket
import time

import pytest

import wsraw
from conftest import free_port
from wsraw import OP_BINARY

KIB = 1024
MIB = 1024 * KIB
BLOCK_HEADER = 24
SPILL_BLOCK = 256


def metrics(admin_port):
    resp, conn = wsraw.get("127.0.0.1", admin_port, "/metrics", timeout=5)
    conn.close_socket()
    assert resp.status == 200
    samples = {}
    for line in resp.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def flood(clients, frame, seconds):
    """Writes `frame` over and over on every client without ever reading, until no client
    could write for 2 s or `seconds` passed. Returns the bytes each client got out."""
    for ws in clients:
        ws.sock.setblocking(False)
    sent = [0] * len(clients)
    offset = [0] * len(clients)
    window = 256 * KIB
    stream = memoryview(frame * (window // len(frame) + 2))
    last_progress = time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and time.monotonic() - last_progress < 2.0:
        _, writable, _ = select.select([], [ws.sock for ws in clients], [], 0.2)
        for sock in writable:
            i = next(k for k, ws in enumerate(clients) if ws.sock is sock)
            try:
                n = sock.send(stream[offset[i]:offset[i] + window])
            except (BlockingIOError, ConnectionError):
                continue
            sent[i] += n
            offset[i] = (offset[i] + n) % len(frame)
            last_progress = time.monotonic()
    return sent


def open_clients(s, n):
    # Small socket buffers on our side, so the server's queue fills, not the kernel's.
    return [wsraw.open_ws(s.host, s.port, sndbuf=64 * KIB, rcvbuf=16 * KIB) for _ in range(n)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cap,message", [(256 * KIB, 64 * KIB), (MIB, 1_000_000)])
def test_unsent_output_stays_under_the_formula(server_factory, cap, message):
    # On 7c42db3: 276 KiB pending and 512 KiB of pool per connection at a 256 KiB cap with
    # 64 KiB messages; 1,759 KiB pending and 2.5 MiB RSS at the 1 MiB default with 1 MB ones.
    admin = free_port()
    s = server_factory("--max-pending-bytes", str(cap), "--max-buffer-memory", "0",
                       "--admin-port", str(admin), "--admin-bind", "127.0.0.1",
                       "--drain-timeout", "1s")
    n = 10
    clients = open_clients(s, n)
    try:
        frame = wsraw.build_frame(OP_BINARY, os.urandom(message), mask_key=b"\x01\x02\x03\x04")
        flood(clients, frame, 40)
        m = metrics(admin)
        pending = m["millionws_pending_output_bytes"]
        pool = m['millionws_buffer_pool_bytes{state="in_use"}']
        paused = m["millionws_connections_paused"]
        bound_pending = n * (cap - BLOCK_HEADER)
        bound_pool = n * (1 << (cap - 1).bit_length()) + n * SPILL_BLOCK
        print("cap %d, %d B messages: pending %d B/conn (bound %d), pool %d B/conn (bound %d), "
              "%d paused" % (cap, message, pending / n, cap - BLOCK_HEADER, pool / n,
                             bound_pool / n, paused))
        assert paused == n, "every client that does not read is paused: %r" % paused
        assert pending <= bound_pending, (pending, bound_pending)
        assert pool <= bound_pool, (pool, bound_pool)
        # The bound is used, not just respected: a paused connection holds most of it.
        assert pending >= n * (cap - BLOCK_HEADER) // 2
    finally:
        for ws in clients:
            ws.close_socket()


@pytest.mark.timeout(120)
def test_max_buffer_memory_resets_the_biggest_holders(server_factory):
    # 40 clients that never read could hold 40 MiB at a 1 MiB cap; the process may hold 8.
    admin = free_port()
    limit = 8 * MIB
    s = server_factory("--max-pending-bytes", "1MiB", "--max-buffer-memory", str(limit),
                       "--admin-port", str(admin), "--admin-bind", "127.0.0.1",
                       "--drain-timeout", "1s")
    hogs = open_clients(s, 40)
    try:
        frame = wsraw.build_frame(OP_BINARY, os.urandom(64 * KIB), mask_key=b"\x01\x02\x03\x04")
        flood(hogs, frame, 40)
        m = metrics(admin)
        pool = m['millionws_buffer_pool_bytes{state="in_use"}']
        shed = m['millionws_disconnections_total{reason="memory_limit"}']
        print("pool in use %d B (limit %d), %d connections reset" % (pool, limit, shed))
        assert m["millionws_buffer_memory_limit_bytes"] == limit
        # Each reactor keeps to its share, passing it by at most one connection's block
        # (1 MiB) between two looks.
        assert pool <= limit + 2 * MIB, pool
        assert shed >= 20, "40 MiB of demand under an 8 MiB limit: %r reset" % shed
        # The reset ones see a reset (their unread echoes are dropped), not a hang.
        reset = 0
        for ws in hogs:
            ws.sock.setblocking(True)
            ws.sock.settimeout(0.5)
            try:
                while ws.sock.recv(1 << 20):
                    pass
                reset += 1  # EOF
            except ConnectionResetError:
                reset += 1
            except socket.timeout:
                pass  # still served: its echoes keep coming while it reads
        assert reset >= shed * 0.9, (reset, shed)
        # The process is fine and serves others.
        with wsraw.open_ws(s.host, s.port) as other:
            other.echo(OP_BINARY, os.urandom(100 * KIB))
            other.close_handshake()
        assert "--max-buffer-memory" in s.log_text()
    finally:
        for ws in hogs:
            ws.close_socket()


def test_default_buffer_limit_is_half_the_memory(server_factory):
    s = server_factory()
    with open("/proc/meminfo") as f:
        ram = int(f.readline().split()[1]) * 1024
    limit = ram // 2
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
            if text != "max":
                limit = min(limit, int(text) // 2)
    except OSError:
        pass
    log = s.log_text()
    assert "pooled buffer memory: at most %d bytes" % limit in log, log
