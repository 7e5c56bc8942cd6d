"""Message size limits (--max-message-bytes) and large-message behaviour
(Autobahn groups 9.1-9.6 with moderate sizes)."""

import os
import struct
import time

import pytest

import wsraw
from wsraw import OP_BINARY, OP_TEXT

LIMIT = 64 * 1024
SERVER_FLAGS = ["--max-message-bytes", "64KiB", "--drain-timeout", "3s"]

MIB = 1024 * 1024


def _open(server):
    return wsraw.open_ws(server.host, server.port)


def _fragmented(opcode, payload, sizes):
    frames = []
    pos = 0
    for i, n in enumerate(sizes):
        chunk = payload[pos:pos + n]
        pos += n
        last = i == len(sizes) - 1
        op = opcode if i == 0 else wsraw.OP_CONT
        frames.append(wsraw.build_frame(op, chunk, fin=last))
    assert pos == len(payload)
    return b"".join(frames)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_exactly_at_limit_single_frame(server, opcode):
    payload = b"t" * LIMIT
    with _open(server) as ws:
        ws.echo(opcode, payload)
        ws.close_handshake()


def test_exactly_at_limit_fragmented(server):
    payload = os.urandom(LIMIT)
    with _open(server) as ws:
        ws.send(_fragmented(OP_BINARY, payload, [10000, 0, 30000, 25536]))
        ws.expect_message(OP_BINARY, payload)
        # connection is still fine afterwards
        ws.echo(OP_TEXT, "next")
        ws.close_handshake()


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_single_frame_over_limit_1009(server, opcode):
    with _open(server) as ws:
        ws.send(wsraw.build_frame(opcode, b"o" * (LIMIT + 1)))
        ws.expect_fail(1009)


def test_fragmented_over_limit_1009(server):
    payload = os.urandom(LIMIT + 1)
    with _open(server) as ws:
        ws.send(_fragmented(OP_BINARY, payload, [30000, 30000, LIMIT + 1 - 60000]))
        ws.expect_fail(1009)


def test_fragmented_over_limit_fails_before_final_fragment(server):
    """A message that can only grow past the limit must be rejected as soon
    as the limit is crossed, not after the (never sent) final fragment."""
    with _open(server) as ws:
        ws.send(wsraw.binary(b"a" * 40000, fin=False))
        ws.expect_fragments(b"a" * 40000)  # streamed echo: within the limit, echoed at once
        ws.send(wsraw.cont(b"b" * 40000, fin=False))
        ws.expect_fail(1009, timeout=3)


def test_many_small_fragments_over_limit(server):
    with _open(server) as ws:
        frag = wsraw.cont(b"c" * 1000, fin=False)
        ws.send(wsraw.text(b"c" * 1000, fin=False) + frag * 70)  # 71000 bytes, no fin
        ws.expect_fail(1009, timeout=3)


def test_huge_declared_length_rejected_without_payload(server):
    """Header announces 1 GiB; server must answer 1009 from the header alone."""
    with _open(server) as ws:
        ws.send(wsraw.build_frame(OP_BINARY, b"just a few bytes", declared_length=1 << 30))
        ws.expect_fail(1009, timeout=3)


def test_huge_declared_16bit_over_limit(server_factory):
    s = server_factory("--max-message-bytes", "1000")
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_BINARY, b"z" * 1000)
        ws.send(wsraw.build_frame(OP_BINARY, b"x" * 10, declared_length=1001))
        ws.expect_fail(1009, timeout=3)


def test_server_fine_after_limit_violations(server):
    for _ in range(10):
        with _open(server) as ws:
            ws.send(wsraw.binary(b"o" * (LIMIT + 100)))
            ws.expect_close_code(1009)
    with _open(server) as ws:
        ws.echo(OP_BINARY, b"k" * LIMIT)
        ws.close_handshake()


def test_limit_does_not_apply_across_messages(server):
    # many messages, each below the limit, totalling far more than the limit
    with _open(server) as ws:
        payload = os.urandom(LIMIT - 1)
        for _ in range(8):
            ws.echo(OP_BINARY, payload)
        ws.close_handshake()


# --------------------------------------------------------------------------
# default limit (1 MiB) and flag / env parsing
# --------------------------------------------------------------------------

def test_default_limit_is_1mib(server_factory):
    s = server_factory()
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_BINARY, os.urandom(MIB), timeout=20)
        ws.echo(OP_TEXT, b"q" * (MIB - 1), timeout=20)
        ws.send(wsraw.binary(b"o" * (MIB + 1)))
        ws.expect_fail(1009, timeout=10)


@pytest.mark.parametrize("value,limit", [("2048", 2048), ("3KiB", 3072), ("1MiB", MIB)])
def test_max_message_bytes_flag_parsing(server_factory, value, limit):
    s = server_factory("--max-message-bytes", value)
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_BINARY, b"a" * limit, timeout=10)
        ws.send(wsraw.binary(b"a" * (limit + 1)))
        ws.expect_fail(1009, timeout=10)


def test_max_message_bytes_env_var(server_factory):
    s = server_factory(env={"MILLIONWS_MAX_MESSAGE_BYTES": "1500"})
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.echo(OP_BINARY, b"a" * 1500)
        ws.send(wsraw.binary(b"a" * 1501))
        ws.expect_fail(1009)


# --------------------------------------------------------------------------
# Autobahn 9.x in the small: big messages, fragmented in many ways, and
# sent in small TCP chunks; many small round trips.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("frag_size", [64, 256, 1024, 4096, 16384, 65536])
def test_large_message_fragment_sizes(server_factory, frag_size):
    s = server_factory()
    payload = os.urandom(MIB if frag_size >= 1024 else 256 * 1024)
    sizes = [frag_size] * (len(payload) // frag_size)
    with wsraw.open_ws(s.host, s.port) as ws:
        ws.send(_fragmented(OP_BINARY, payload, sizes))
        ws.expect_message(OP_BINARY, payload, timeout=30)
        ws.close_handshake()


@pytest.mark.parametrize("chop", [64, 1000, 4096, 65536])
def test_large_text_message_chopped_tcp(server_factory, chop):
    s = server_factory()
    payload = ("κόσμε-" * (600000 // 11)).encode()
    data = wsraw.text(payload)
    with wsraw.open_ws(s.host, s.port) as ws:
        for i in range(0, len(data), chop):
            ws.send(data[i:i + chop])
        ws.expect_message(OP_TEXT, payload, timeout=30)
        ws.close_handshake()


@pytest.mark.parametrize("size", [16, 256, 4096])
def test_many_small_round_trips(server, size):
    payload = b"m" * size
    with _open(server) as ws:
        t0 = time.monotonic()
        for i in range(1000):
            ws.send(wsraw.binary(payload))
            ws.expect_message(OP_BINARY, payload)
        elapsed = time.monotonic() - t0
        ws.close_handshake()
    assert elapsed < 30, "1000 round trips took %.1fs" % elapsed
