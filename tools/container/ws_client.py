#!/usr/bin/env python3
"""A minimal RFC 6455 client for tools/container/image-check.sh, on the standard library only
(so the check needs nothing the machine lacks, and shares no code with the server under test).

  ws_client.py echo  HOST PORT   -- handshake, then text and binary messages of several sizes
                                    (7-bit, 16-bit and 64-bit length forms) must come back with
                                    the same opcode, byte for byte (in one frame or fragmented:
                                    the server echoes a message that spans its reads piece by
                                    piece); then a clean 1000 close.
  ws_client.py hold  HOST PORT READY_FILE
                                 -- handshake, touch READY_FILE, wait (up to 30 s) for the
                                    server's Close; print its code and answer it. Used to see
                                    `docker stop` drain with 1001.
Exit status 0 only when every check passed.
"""
import base64
import hashlib
import os
import socket
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    request = (
        f"GET /echo HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit(f"handshake: connection closed after {head!r}")
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        raise SystemExit(f"handshake: expected 101, got {lines[0]!r}")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != expected:
        raise SystemExit(f"handshake: Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, expected {expected!r}")
    return sock, bytearray(rest)


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def read_exact(sock, buf, n):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit(f"connection closed while reading ({len(buf)} of {n} bytes)")
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def read_frame(sock, buf):
    b0, b1 = read_exact(sock, buf, 2)
    if b1 & 0x80:
        raise SystemExit("server frame is masked (RFC 6455 5.1 forbids it)")
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", read_exact(sock, buf, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", read_exact(sock, buf, 8))
    return b0 & 0x80, b0 & 0x0F, read_exact(sock, buf, n)


def read_message(sock, buf):
    """One data message: its opcode and payload, fragments joined (RFC 6455 5.4)."""
    fin, opcode, payload = read_frame(sock, buf)
    if opcode == 0x0:
        raise SystemExit("a continuation frame with no message to continue")
    parts = [payload]
    while not fin:
        fin, more, payload = read_frame(sock, buf)
        if more != 0x0:
            raise SystemExit(f"opcode {more} in the middle of a fragmented message")
        parts.append(payload)
    return opcode, b"".join(parts), len(parts)


def echo(host, port):
    sock, buf = connect(host, port)
    cases = [(0x1, "hello from image-check \u2713".encode())]
    for size in (0, 125, 126, 65535, 65536, 300_000):
        cases.append((0x2, os.urandom(size)))
    fragments = 0
    for opcode, payload in cases:
        send_frame(sock, opcode, payload)
        got_opcode, got, frames = read_message(sock, buf)
        fragments += frames
        if got_opcode != opcode or got != payload:
            raise SystemExit(
                f"echo mismatch: sent opcode {opcode} {len(payload)} B, got opcode {got_opcode} {len(got)} B in {frames} frame(s)"
            )
    send_frame(sock, 0x8, struct.pack("!H", 1000))
    _, opcode, payload = read_frame(sock, buf)
    if opcode != 0x8 or payload[:2] != struct.pack("!H", 1000):
        raise SystemExit(f"close: expected 1000 back, got opcode {opcode} payload {payload!r}")
    print(f"echo ok: {len(cases)} messages ({sum(len(p) for _, p in cases)} bytes) came back byte for byte in {fragments} frames; close 1000 answered")


def hold(host, port, ready_file):
    sock, buf = connect(host, port)
    sock.settimeout(30)
    open(ready_file, "w").close()
    start = time.monotonic()
    _, opcode, payload = read_frame(sock, buf)
    if opcode != 0x8 or len(payload) < 2:
        raise SystemExit(f"expected a Close frame with a code, got opcode {opcode} payload {payload!r}")
    (code,) = struct.unpack("!H", payload[:2])
    send_frame(sock, 0x8, payload[:2])
    print(f"server closed with {code} after {time.monotonic() - start:.1f} s")
    if code != 1001:
        raise SystemExit(f"expected close code 1001 (going away), got {code}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "echo":
        echo(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "hold":
        hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)
