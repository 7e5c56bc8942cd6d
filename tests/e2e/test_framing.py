"""Base framing, pings/pongs, reserved bits/opcodes, fragmentation
(RFC 6455 section 5; Autobahn groups 1-5)."""

import asyncio
import os
import random
import time

import pytest
import websockets

import wsraw
from wsraw import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RSV1, RSV2, RSV3

SERVER_FLAGS = ["--drain-timeout", "3s"]

MIB = 1024 * 1024


def _uri(server):
    # Under --tls (conftest) server.port is the wss:// one.
    scheme = "wss" if wsraw.TLS_CONTEXT else "ws"
    return "%s://%s:%d/echo" % (scheme, server.host, server.port)


def _text_of_len(n, seed=0):
    rnd = random.Random(seed + n)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?"
    return "".join(rnd.choice(alphabet) for _ in range(n))


async def _websockets_echo(uri, messages, compression=None):
    tls = {"ssl": wsraw.TLS_CONTEXT} if uri.startswith("wss:") else {}
    async with websockets.connect(uri, max_size=None, ping_interval=None, close_timeout=5,
                                  compression=compression, open_timeout=10, **tls) as ws:
        assert not ws.extensions, "server negotiated extensions: %r" % ws.extensions
        for m in messages:
            await ws.send(m)
            r = await asyncio.wait_for(ws.recv(), 20)
            assert type(r) is type(m), "type changed: sent %s got %s" % (type(m), type(r))
            assert len(r) == len(m), "length: sent %d got %d" % (len(m), len(r))
            assert r == m, "payload differs"
        await ws.close(1000)
        assert ws.close_code == 1000, ws.close_code


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _open(server):
    return wsraw.open_ws(server.host, server.port)


def _expect_fail(ws, code=1002, timeout=5.0):
    """Server must send a close frame with `code` and close TCP without
    waiting for our close reply."""
    ws.expect_fail(code, timeout=timeout)


# --------------------------------------------------------------------------
# One write that breaks a framing rule: the server fails the connection with
# 1002 at once (RFC 6455 7.1.7) and closes TCP without waiting for our reply.
# --------------------------------------------------------------------------

RESERVED_OPCODES = [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]
CLOSE_1000 = b"\x03\xe8"
INVALID_CLOSE_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def _protocol_errors():
    cases = []

    def case(frames, name):
        cases.append(pytest.param(frames, id=name))

    for op in (OP_PING, OP_PONG, OP_CLOSE):  # 5.5: control payload <= 125, FIN set
        case(wsraw.build_frame(op, CLOSE_1000 + b"a" * 124, length_form="16"),
             "control-126-op%d" % op)
        case(wsraw.build_frame(op, CLOSE_1000 + b"a" * 998), "control-1000-op%d" % op)
        case(wsraw.build_frame(op, CLOSE_1000 if op == OP_CLOSE else b"fragmented", fin=False),
             "control-no-fin-op%d" % op)
    case(wsraw.ping(b"frag", fin=False) + wsraw.cont(b"ment"), "ping-in-two-parts")
    for rsv in range(1, 8):  # 5.2: no extension negotiated, so RSV1-3 must be 0
        case(wsraw.text("hello", rsv=rsv), "rsv%d-text" % rsv)
    for op, payload in ((OP_BINARY, b"\x00\xff"), (OP_PING, b"p"), (OP_PONG, b"p"),
                        (OP_CLOSE, CLOSE_1000)):
        for rsv in (RSV1, RSV2, RSV3):
            case(wsraw.build_frame(op, payload, rsv=rsv), "rsv%d-op%d" % (rsv, op))
    case(wsraw.text("frag", fin=False) + wsraw.cont("ment", rsv=RSV1), "rsv-continuation")
    for op in RESERVED_OPCODES:  # 5.2: reserved opcodes
        case(wsraw.build_frame(op, b"reserved"), "reserved-op%d" % op)
    for fin in (True, False):  # 5.4: a continuation needs a message to continue
        case(wsraw.cont("orphan", fin=fin), "orphan-continuation-fin%d" % fin)
    for first in (OP_TEXT, OP_BINARY):  # 5.4: no new message inside a fragmented one
        for second in (OP_TEXT, OP_BINARY):
            for fin in (True, False):
                case(wsraw.build_frame(first, b"start", fin=False)
                     + wsraw.build_frame(second, b"intruder", fin=fin),
                     "new-op%d-inside-op%d-fin%d" % (second, first, fin))
    for op in (OP_TEXT, OP_BINARY, OP_PING, OP_CLOSE):  # 5.1: client frames are masked
        case(wsraw.build_frame(op, CLOSE_1000 if op == OP_CLOSE else b"unmasked", mask=False),
             "unmasked-op%d" % op)
    case(wsraw.text("a", fin=False) + wsraw.cont("b", mask=False), "unmasked-continuation")
    for code in INVALID_CLOSE_CODES:  # 7.4.1: codes a peer may not send
        case(wsraw.close(code, b"bad"), "close-code-%d" % code)
    case(wsraw.build_frame(OP_CLOSE, b"\x03"), "close-one-byte-payload")  # 5.5.1
    case(wsraw.build_frame(OP_CLOSE, CLOSE_1000 + b"r" * 124), "close-reason-124")  # 5.5
    return cases


@pytest.mark.parametrize("frames", _protocol_errors())
def test_protocol_error_fails_with_1002(server, frames):
    with _open(server) as ws:
        ws.send(frames)
        _expect_fail(ws)


# --------------------------------------------------------------------------
# Group 1: echo with an independent client (python3-websockets)
# --------------------------------------------------------------------------

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, MIB - 1, MIB]


@pytest.mark.parametrize("size", SIZES)
def test_websockets_text_echo(server, size):
    run(_websockets_echo(_uri(server), [_text_of_len(size)]))


@pytest.mark.parametrize("size", SIZES)
def test_websockets_binary_echo(server, size):
    run(_websockets_echo(_uri(server), [os.urandom(size)]))


def test_websockets_mixed_opcodes_preserved(server):
    msgs = []
    for i in range(40):
        if i % 2:
            msgs.append(os.urandom(i * 37))
        else:
            msgs.append("κόσμε €𝄞 ✓ " * i)
    msgs += ["", b"", "0", b"0"]
    run(_websockets_echo(_uri(server), msgs))


def test_websockets_offering_deflate_gets_plain(server):
    # The client offers permessage-deflate; the server must decline it and
    # still echo correctly.
    run(_websockets_echo(_uri(server), ["a" * 5000, b"\x00" * 5000],
                         compression="deflate"))


# --------------------------------------------------------------------------
# Group 1 (raw): exact server frame encoding
# --------------------------------------------------------------------------

@pytest.mark.parametrize("size,form", [(0, "7"), (1, "7"), (125, "7"), (126, "16"),
                                       (127, "16"), (65535, "16"), (65536, "64"),
                                       (65537, "64"), (300000, "64")])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_raw_echo_single_frame_shortest_length(server, size, form, opcode):
    payload = (b"x" * size) if opcode == OP_TEXT else os.urandom(size)
    with _open(server) as ws:
        ws.send_frame(opcode, payload)
        # A frame that arrives in one read comes back as one frame; a longer one (over the
        # 64 KiB read) is echoed piece by piece as fragments of the same message.
        frames = [ws.recv_frame(timeout=10)]  # strict: unmasked, shortest form, no rsv
        while not frames[-1].fin:
            frames.append(ws.recv_frame(timeout=10))
        assert frames[0].opcode == opcode, frames[0]
        assert all(f.opcode == wsraw.OP_CONT for f in frames[1:]), frames
        if size <= 16384:
            assert len(frames) == 1, "echo of a %d-byte frame was fragmented: %r" % (size, frames)
            assert frames[0].length_form == form, frames[0]
        for f in frames:
            assert not f.masked
            n = len(f.payload)
            expected_hdr_len = 2 if n <= 125 else 4 if n <= 0xFFFF else 10
            assert len(f.header) == expected_hdr_len, f.header
        assert b"".join(f.payload for f in frames) == payload
        ws.close_handshake()


def test_raw_zero_mask_key(server):
    with _open(server) as ws:
        ws.send(wsraw.text("zero-mask", mask_key=b"\x00\x00\x00\x00"))
        ws.expect_message(OP_TEXT, "zero-mask")
        ws.close_handshake()


def test_many_messages_in_one_write(server):
    msgs = [os.urandom(random.randint(0, 300)) for _ in range(200)]
    with _open(server) as ws:
        ws.send(b"".join(wsraw.binary(m) for m in msgs))
        for m in msgs:
            ws.expect_message(OP_BINARY, m)
        ws.close_handshake()


def test_frames_one_byte_at_a_time(server):
    data = (wsraw.text("héllo wörld") + wsraw.binary(b"\x01" * 130)
            + wsraw.ping(b"abc"))
    with _open(server) as ws:
        ws.send_slowly(data, chunk=1, delay=0.001)
        ws.expect_message(OP_TEXT, "héllo wörld")
        ws.expect_message(OP_BINARY, b"\x01" * 130)
        ws.expect_message(OP_PONG, b"abc")
        ws.close_handshake()


def test_large_message_in_small_tcp_chunks(server):
    payload = os.urandom(200000)
    data = wsraw.binary(payload)
    with _open(server) as ws:
        for i in range(0, len(data), 997):
            ws.send(data[i:i + 997])
        ws.expect_message(OP_BINARY, payload, timeout=20)
        ws.close_handshake()


def test_client_64bit_length_for_small_payload_msb_set_fails(server):
    # RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0.
    with _open(server) as ws:
        ws.send(wsraw.build_frame(OP_BINARY, b"abc", length_form="64",
                                  declared_length=(1 << 63) | 3))
        f = ws.expect_close(timeout=5)
        assert f.close_code in (1002, 1009), f
        ws.assert_tcp_closed()


# --------------------------------------------------------------------------
# Group 2: pings and pongs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"x", b"\x00\xff" * 10, bytes(range(125)),
                                     "ping ✓".encode()])
def test_ping_gets_pong_with_same_payload(server, payload):
    with _open(server) as ws:
        ws.send(wsraw.ping(payload))
        f = ws.recv_frame()
        assert f.opcode == OP_PONG, f
        assert f.fin
        assert f.payload == payload
        ws.close_handshake()


def test_ten_pings_in_a_row(server):
    pays = [("ping-%d" % i).encode() for i in range(10)]
    with _open(server) as ws:
        ws.send(b"".join(wsraw.ping(p) for p in pays))
        got = []
        deadline = time.monotonic() + 5
        while not got or got[-1] != pays[-1]:
            f = ws.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
            assert f.opcode == OP_PONG, f
            got.append(f.payload)
        # RFC allows answering only the most recent ping, but pongs that are
        # sent must match pings, in order.
        it = iter(pays)
        assert all(any(g == p for p in it) for g in got), got
        ws.echo(OP_TEXT, "after pings")
        ws.close_handshake()


def test_ping_one_byte_at_a_time(server):
    with _open(server) as ws:
        ws.send_slowly(wsraw.ping(b"Hello, world!"), chunk=1, delay=0.002)
        ws.expect_message(OP_PONG, b"Hello, world!")
        ws.close_handshake()


@pytest.mark.parametrize("payload", [b"", b"unsolicited", b"\x00" * 125])
def test_unsolicited_pong_ignored(server, payload):
    with _open(server) as ws:
        ws.send(wsraw.pong(payload))
        ws.assert_no_data(0.3)
        ws.echo(OP_TEXT, "next")
        ws.close_handshake()


def test_unsolicited_pong_then_ping(server):
    with _open(server) as ws:
        ws.send(wsraw.pong(b"unsolicited") + wsraw.ping(b"solicited"))
        ws.expect_message(OP_PONG, b"solicited")
        ws.close_handshake()


# --------------------------------------------------------------------------
# Group 3: reserved bits
# --------------------------------------------------------------------------

def test_valid_then_rsv_then_ping(server):
    # Autobahn 3.2: echo for the first, then fail; the ping after the bad
    # frame must not be answered.
    with _open(server) as ws:
        ws.send(wsraw.text("Hello") + wsraw.text("Hello", rsv=RSV2) + wsraw.ping(b"x"))
        ws.expect_message(OP_TEXT, "Hello")
        _expect_fail(ws)


def test_valid_then_rsv_sent_slowly(server):
    with _open(server) as ws:
        ws.send_slowly(wsraw.text("Hello") + wsraw.text("Hello", rsv=RSV3) + wsraw.ping(b"x"),
                       chunk=1, delay=0.002, stop_on_error=True)
        ws.expect_message(OP_TEXT, "Hello")
        _expect_fail(ws)


# --------------------------------------------------------------------------
# Group 4: opcodes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("opcode", [3, 0xB])
def test_reserved_opcode_empty_after_valid(server, opcode):
    with _open(server) as ws:
        ws.send(wsraw.text("Hello") + wsraw.build_frame(opcode, b"") + wsraw.ping(b"x"))
        ws.expect_message(OP_TEXT, "Hello")
        _expect_fail(ws)


# --------------------------------------------------------------------------
# Group 5: fragmentation
# --------------------------------------------------------------------------

def test_fragmented_text(server):
    with _open(server) as ws:
        ws.send(wsraw.text("fragment1", fin=False) + wsraw.cont("fragment2", fin=False)
                + wsraw.cont("fragment3"))
        ws.expect_message(OP_TEXT, "fragment1fragment2fragment3")
        ws.close_handshake()


def test_fragmented_binary(server):
    parts = [os.urandom(n) for n in (1, 125, 126, 1000, 65536, 3)]
    data = wsraw.binary(parts[0], fin=False)
    for p in parts[1:-1]:
        data += wsraw.cont(p, fin=False)
    data += wsraw.cont(parts[-1])
    with _open(server) as ws:
        ws.send(data)
        ws.expect_message(OP_BINARY, b"".join(parts), timeout=10)
        ws.close_handshake()


@pytest.mark.parametrize("layout", [
    ["", "abc", "def"], ["abc", "", "def"], ["abc", "def", ""], ["", "", ""],
    ["", "x"], ["x", ""], ["", ""], ["", "", "", "", "", "a", "", "", "", ""],
])
def test_fragmented_with_empty_fragments(server, layout):
    data = wsraw.text(layout[0], fin=False)
    for p in layout[1:-1]:
        data += wsraw.cont(p, fin=False)
    data += wsraw.cont(layout[-1])
    with _open(server) as ws:
        ws.send(data)
        ws.expect_message(OP_TEXT, "".join(layout))
        ws.close_handshake()


def test_many_fragments(server):
    chunks = [os.urandom(random.randint(0, 40)) for _ in range(500)]
    data = wsraw.binary(chunks[0], fin=False)
    data += b"".join(wsraw.cont(c, fin=False) for c in chunks[1:-1])
    data += wsraw.cont(chunks[-1])
    with _open(server) as ws:
        ws.send(data)
        ws.expect_message(OP_BINARY, b"".join(chunks))
        ws.close_handshake()


def test_ping_between_fragments_answered_immediately(server):
    with _open(server) as ws:
        ws.send(wsraw.text("Hello, ", fin=False) + wsraw.ping(b"in-between"))
        # the fragment is echoed at once, and the pong comes right behind it, before the
        # message is complete
        ws.expect_fragments(b"Hello, ")
        f = ws.recv_frame(timeout=5)
        assert (f.opcode, f.payload) == (OP_PONG, b"in-between"), f
        ws.send(wsraw.cont("World", fin=False) + wsraw.ping(b"again"))
        ws.expect_fragments(b"World")
        f = ws.recv_frame(timeout=5)
        assert (f.opcode, f.payload) == (OP_PONG, b"again"), f
        ws.send(wsraw.cont("!"))
        f = ws.recv_frame(timeout=5)
        assert (f.opcode, f.fin, f.payload) == (wsraw.OP_CONT, True, b"!"), f
        ws.close_handshake()


def test_pong_between_fragments_ignored(server):
    with _open(server) as ws:
        ws.send(wsraw.binary(b"ab", fin=False) + wsraw.pong(b"zz") + wsraw.cont(b"cd"))
        ws.expect_message(OP_BINARY, b"abcd")
        ws.close_handshake()


def test_fragments_and_pings_sent_slowly(server):
    data = (wsraw.text("frag1", fin=False) + wsraw.ping(b"p1") + wsraw.cont("frag2", fin=False)
            + wsraw.ping(b"p2") + wsraw.cont("frag3"))
    with _open(server) as ws:
        ws.send_slowly(data, chunk=1, delay=0.001)
        assert ws.recv_message() == (OP_PONG, b"p1")
        assert ws.recv_message() == (OP_PONG, b"p2")
        ws.expect_message(OP_TEXT, "frag1frag2frag3")
        ws.close_handshake()


def test_fragmented_then_single_message(server):
    with _open(server) as ws:
        ws.send(wsraw.binary(b"1", fin=False) + wsraw.cont(b"2") + wsraw.text("3")
                + wsraw.text("4", fin=False) + wsraw.cont("5"))
        ws.expect_message(OP_BINARY, b"12")
        ws.expect_message(OP_TEXT, "3")
        ws.expect_message(OP_TEXT, "45")
        ws.close_handshake()


def test_continuation_after_complete_message_fails(server):
    with _open(server) as ws:
        ws.send(wsraw.text("a", fin=False) + wsraw.cont("b"))
        ws.expect_message(OP_TEXT, "ab")
        ws.send(wsraw.cont("c"))
        _expect_fail(ws)


def test_server_survives_protocol_errors(server):
    # many failing connections in a row must not affect a healthy one
    healthy = _open(server)
    with healthy:
        for i in range(30):
            with _open(server) as ws:
                ws.send(wsraw.build_frame(3 + (i % 5), b"x"))
                ws.expect_close_code(1002)
        healthy.echo(OP_TEXT, "still here")
        healthy.close_handshake()
