#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (run again after changing it).

Each seed is a short, meaningful input: the RFC 6455 section 1.2 and 5.7 examples, the unit
tests' and Autobahn's vectors, and one example of every rule the targets check. The first
bytes of a seed steer the harness (read sizes, limits, modes); see each *_fuzz.cpp.

    /usr/bin/python3 tests/fuzz/make_seeds.py
"""

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 section 5.7

# ---------------------------------------------------------------------------------------
# decoder: byte 0 = mode | limit << 2 | read class << 5, byte 1 = seed, bytes 2-3 = offset
NORMAL, DISCARD, SWITCH = 0, 1, 2
LIMIT = {0: 0, 1: 1, 3: 2, 125: 3, 126: 4, 65535: 5, 65536: 6, 1 << 20: 7}
READS = {1: 0, 2: 1, 3: 2, 7: 3, 16: 4, 131: 5, 1024: 6, "all": 7}


def frame(op, payload=b"", fin=True, mask=KEY, rsv=0, length_form=None):
    """A client frame; length_form forces the 7-, 16- or 64-bit length encoding."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv << 4 | op])
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    m = 0x80 if mask is not None else 0
    if form == 7:
        head += bytes([m | n])
    elif form == 16:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def header_only(op, declared, mask=KEY, fin=True):
    """A data frame header declaring `declared` bytes (64-bit form), payload not included."""
    return bytes([(0x80 if fin else 0) | op, 0x80 | 127]) + struct.pack("!Q", declared) + mask


def close(code=None, reason=b""):
    return frame(0x8, b"" if code is None else struct.pack("!H", code) + reason)


def dec(mode=NORMAL, limit=1 << 20, reads=7, seed=1, offset=0):
    return bytes([mode | LIMIT[limit] << 2 | READS[reads] << 5, seed]) + struct.pack("<H", offset)


KOSME = "κόσμε".encode()
DECODER = {
    # RFC 6455 5.7, masked as a client must send them
    "rfc-single-masked-text": dec() + bytes.fromhex("818537fa213d7f9f4d5158"),
    "rfc-fragmented-text": dec(reads=3) + frame(0x1, b"Hel", fin=False) + frame(0x0, b"lo"),
    "rfc-masked-pong": dec() + bytes.fromhex("8a8537fa213d7f9f4d5158"),
    "rfc-ping-hello": dec() + frame(0x9, b"Hello"),
    "rfc-256-binary": dec(reads=16) + frame(0x2, bytes(range(256))),
    "rfc-64k-header-partial": dec(limit=65536) + header_only(0x2, 65536) + b"\x00" * 32,
    # echo traffic the unit and e2e tests use
    "text-binary-ping-text": dec(reads=7) + frame(0x1, b"first") + frame(0x2, bytes(300))
    + frame(0x9, b"pp") + frame(0x1, b"last"),
    "ping-between-fragments": dec(reads=2) + frame(0x1, b"ab", fin=False) + frame(0x9, b"p")
    + frame(0x0, b"cd", fin=False) + frame(0xA) + frame(0x0, b"ef"),
    "empty-messages": dec() + frame(0x1) + frame(0x2) + frame(0x1, fin=False) + frame(0x0),
    "close-normal-reason": dec() + frame(0x1, b"x") + close(1000, b"bye"),
    "close-empty": dec() + close(),
    "close-4999-utf8-reason": dec(reads=1) + close(4999, KOSME),
    # UTF-8 (Autobahn 6): split code points, overlong, surrogate, above U+10FFFF
    "utf8-kosme-split-every-byte": dec(reads=1) + b"".join(
        frame(0x1 if i == 0 else 0x0, KOSME[i:i + 1], fin=i == len(KOSME) - 1)
        for i in range(len(KOSME))),
    "utf8-every-lead-class": dec(reads=7) + frame(0x1, b"Hello, world, ASCII first! "
                                                  + "\u0800\ud7ff\U0001d11e\U00040000\U0010ffff"
                                                  .encode() + b" and ASCII after it"),
    "utf8-surrogate": dec(reads=2) + frame(0x1, b"edited\xed\xa0\x80edited"),
    "utf8-overlong": dec() + frame(0x1, b"\xc0\xaf"),
    "utf8-above-max": dec() + frame(0x1, b"\xf4\x90\x80\x80"),
    "utf8-unfinished-at-end": dec() + frame(0x1, b"\xe2\x82", fin=False) + frame(0x0, b""),
    "close-reason-invalid-utf8": dec() + close(1000, b"\xff"),
    # protocol errors (1002)
    "unmasked": dec() + frame(0x1, b"Hello", mask=None),
    "rsv1": dec() + frame(0x1, b"x", rsv=4),
    "reserved-opcode": dec() + frame(0x3, b"x"),
    "fragmented-ping": dec() + frame(0x9, b"x", fin=False),
    "long-ping": dec() + frame(0x9, bytes(126)),
    "stray-continuation": dec() + frame(0x0, b"x"),
    "interleaved-message": dec() + frame(0x1, b"a", fin=False) + frame(0x2, b"b"),
    "non-minimal-16": dec() + frame(0x2, b"x" * 5, length_form=16),
    "non-minimal-64": dec() + frame(0x2, b"x" * 200, length_form=64),
    "length-msb-set": dec() + bytes([0x82, 0xFF]) + b"\x80" + b"\x00" * 7 + KEY,
    "close-one-byte": dec() + frame(0x8, b"\x03"),
    "close-code-1005": dec() + close(1005),
    "close-code-999": dec() + close(999),
    # size limit (1009)
    "too-big-single": dec(limit=125) + frame(0x2, bytes(126)),
    "too-big-fragments": dec(limit=3) + frame(0x2, b"ab", fin=False) + frame(0x0, b"cd"),
    "limit-zero": dec(limit=0) + frame(0x1) + frame(0x1, b"x"),
    # discard mode: from the start (after our Close), and from an offset (mid-stream)
    "discard-data-then-close": dec(mode=DISCARD) + frame(0x2, bytes(40)) + frame(0x9, b"p")
    + close(1001),
    "discard-bad-frames-then-close": dec(mode=DISCARD) + frame(0x3, b"x", mask=None)
    + frame(0x9, bytes(200)) + close(1000, b"\xff"),
    "discard-untrackable-frame": dec(mode=DISCARD) + header_only(0x2, 1 << 40) + close(1000),
    "discard-from-offset": dec(mode=SWITCH, reads=2, offset=9) + frame(0x1, b"abcdefgh")
    + frame(0x2, bytes(20)) + close(1000),
}

# ---------------------------------------------------------------------------------------
# upgrade: byte 0 = read class | header limit << 3 | allowlist << 5, byte 1 = seed,
# byte 2 = render buffer size / 3
HEADER_LIMIT = {8192: 0, 1024: 1, 256: 2, 64: 3}


def upg(reads=7, limit=8192, allow=0, seed=1, render=200):
    return bytes([READS[reads] | HEADER_LIMIT[limit] << 3 | allow << 5, seed, render // 3])


def request(line="GET /echo HTTP/1.1", headers=None, extra=(), body=b""):
    if headers is None:
        headers = [("Host", "127.0.0.1:8080"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                   ("Sec-WebSocket-Version", "13")]
    text = line + "\r\n" + "".join("%s: %s\r\n" % h for h in list(headers) + list(extra)) + "\r\n"
    return text.encode("latin-1") + body


RFC_CLIENT = [("Host", "server.example.com"), ("Upgrade", "websocket"),
              ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
              ("Origin", "http://example.com"), ("Sec-WebSocket-Protocol", "chat, superchat"),
              ("Sec-WebSocket-Version", "13")]
CHROMIUM = [("Host", "127.0.0.1:8080"), ("Connection", "Upgrade"), ("Pragma", "no-cache"),
            ("Cache-Control", "no-cache"), ("User-Agent", "Mozilla/5.0 HeadlessChrome/120"),
            ("Upgrade", "websocket"), ("Origin", "http://127.0.0.1:8081"),
            ("Sec-WebSocket-Version", "13"), ("Accept-Encoding", "gzip, deflate, br"),
            ("Accept-Language", "en-US"), ("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]

UPGRADE = {
    "rfc-client-handshake": upg() + request("GET /chat HTTP/1.1", RFC_CLIENT),
    "rfc-client-handshake-echo": upg(reads=1) + request(headers=RFC_CLIENT),
    "rfc-origin-allowed": upg(allow=1, reads=16) + request(
        extra=[("Origin", "http://a.example")]),
    "chromium-handshake": upg(reads=131) + request(headers=CHROMIUM),
    "handshake-then-frame": upg() + request() + frame(0x1, b"Hello"),
    "header-variants": upg(reads=3) + request(headers=[
        ("host", "h"), ("UPGRADE", " WebSocket "), ("Connection", "keep-alive"),
        ("connection", "upgrade"), ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ("Sec-WebSocket-Version", "13")]),
    "health": upg() + b"GET /health HTTP/1.0\r\n\r\n",
    "health-query": upg(reads=2) + b"GET /health?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
    "absolute-form": upg() + request("GET http://127.0.0.1:8080/echo?room=1 HTTP/1.1"),
    "absolute-form-ws-ipv6": upg() + request("GET ws://[::1]:8080/echo HTTP/1.1"),
    "absolute-form-userinfo": upg() + request("GET http://user@h/echo HTTP/1.1"),
    "http-2.0": upg() + request("GET /echo HTTP/2.0"),
    "http-1.2": upg() + request("GET /echo HTTP/1.2"),
    "http-1.0": upg() + request("GET /echo HTTP/1.0"),
    "long-target": upg(reads=16) + request("GET /echo?" + "q" * 600 + " HTTP/1.1"),
    "content-length-body": upg() + request(extra=[("Content-Length", "5")], body=b"\x81\x85\x37"),
    "transfer-encoding": upg() + request(extra=[("Transfer-Encoding", "chunked")], body=b"0\r\n\r\n"),
    "obs-fold": upg(reads=1) + b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
    b"Connection: keep-alive,\r\n Upgrade\r\n\r\n",
    # found by this fuzzer: llhttp 8.1.0 ends the header block at a CR and any byte
    "bare-cr-after-request-line": upg() + request().replace(b"HTTP/1.1\r\n", b"HTTP/1.1\n\r", 1),
    "bare-cr-ends-headers": upg(reads=2) + request()[:-2] + b"\rX",
    "post-405": upg() + b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    "origin-refused-403": upg(allow=2) + request(extra=[("Origin", "https://evil.example")]),
    "origin-missing-403": upg(allow=3) + request(),
    "missing-upgrade-400": upg() + request(headers=[
        ("Host", "h"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13")]),
    "connection-keep-alive-400": upg() + request(headers=[
        ("Host", "h"), ("Upgrade", "websocket"), ("Connection", "keep-alive"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]),
    "asterisk-form": upg() + b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "authority-form": upg() + b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    "not-a-scheme": upg() + request("GET 1http://h/echo HTTP/1.1"),
    "version-8-426": upg() + request(headers=[
        ("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "8")]),
    "two-keys-400": upg() + request(extra=[("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]),
    "headers-too-large": upg(limit=256) + request(extra=[("X-Pad", "p" * 300)]),
    "bare-lf": upg() + b"GET /echo HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n",
    "tls-client-hello": upg() + bytes.fromhex("160301020001000001fc0303"),
}

# ---------------------------------------------------------------------------------------
# frame_reader: byte 0 = read class | limit << 3 | stop at Close << 6, byte 1 = seed
READER_LIMIT = {0: 0, 1: 1, 125: 2, 126: 3, 65535: 4, 65536: 5, 1 << 20: 6, "max": 7}


def rd(reads=7, limit=1 << 20, stop=True, seed=1):
    return bytes([READS[reads] | READER_LIMIT[limit] << 3 | (0x40 if stop else 0), seed])


def sframe(op, payload=b"", fin=True, **kw):
    return frame(op, payload, fin=fin, mask=None, **kw)


READER = {
    # RFC 6455 5.7, as a server sends them
    "rfc-single-unmasked-text": rd() + bytes.fromhex("810548656c6c6f"),
    "rfc-fragmented-text": rd(reads=1) + bytes.fromhex("010348656c" "80026c6f"),
    "rfc-unmasked-ping": rd() + bytes.fromhex("890548656c6c6f"),
    "rfc-256-binary": rd(reads=16) + bytes.fromhex("827e0100") + bytes(range(256)),
    "rfc-64k-header-partial": rd(limit=65536) + bytes.fromhex("827f0000000000010000") + bytes(40),
    "echoes-and-close": rd(reads=3) + sframe(0x1, b"first") + sframe(0x2, bytes(300))
    + sframe(0xA, b"pp") + sframe(0x8, struct.pack("!H", 1000)),
    "ping-between-fragments": rd(reads=2) + sframe(0x2, b"ab", fin=False) + sframe(0x9, b"p")
    + sframe(0x0, b"cd"),
    "close-then-more": rd(stop=False) + sframe(0x8, struct.pack("!H", 1001)) + sframe(0x1, b"x"),
    "masked": rd() + frame(0x1, b"Hello"),
    "rsv": rd() + sframe(0x1, b"x", rsv=1),
    "reserved-opcode": rd() + sframe(0xB),
    "long-control": rd() + sframe(0x9, bytes(126)),
    "bad-continuation": rd() + sframe(0x0, b"x"),
    "too-big": rd(limit=125) + sframe(0x2, bytes(126)),
    "huge-declared": rd(limit="max") + bytes.fromhex("827fffffffffffffffff") + bytes(8),
}


def write(target, seeds):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    for name, data in seeds.items():
        (d / name).write_bytes(data)
    print("%s: %d seeds, %d bytes" % (target, len(seeds), sum(len(v) for v in seeds.values())))


if __name__ == "__main__":
    write("decoder", DECODER)
    write("upgrade", UPGRADE)
    write("frame_reader", READER)
