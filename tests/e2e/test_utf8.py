"""UTF-8 handling of text messages (RFC 6455 8.1; Autobahn group 6)."""

import os
import time

import pytest

import wsraw
from wsraw import OP_BINARY, OP_TEXT

SERVER_FLAGS = ["--drain-timeout", "3s"]


def _open(server):
    return wsraw.open_ws(server.host, server.port)


VALID = {
    "empty": b"",
    "ascii": b"Hello-\x7f",
    "mixed": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "kosme": "κόσμε".encode(),
    "nul": b"\x00",
    "U+0080": b"\xc2\x80",
    "U+07FF": b"\xdf\xbf",
    "U+0800": b"\xe0\xa0\x80",
    "U+D7FF": b"\xed\x9f\xbf",
    "U+E000": b"\xee\x80\x80",
    "U+FFFD": b"\xef\xbf\xbd",
    "U+FFFE-nonchar": b"\xef\xbf\xbe",
    "U+FFFF": b"\xef\xbf\xbf",
    "U+10000": b"\xf0\x90\x80\x80",
    "U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "emoji": "😀🎉 𝄞".encode(),
    "cjk": "日本語のテキスト".encode(),
}

INVALID = {
    "lone-cont-80": b"\x80",
    "lone-cont-bf": b"\xbf",
    "cont-seq": b"\x80\xbf\x80",
    "cont-after-ascii": b"abc\x80def",
    "overlong-c0-80": b"\xc0\x80",
    "overlong-c1-bf": b"\xc1\xbf",
    "overlong-e0-80-80": b"\xe0\x80\x80",
    "overlong-e0-9f-bf": b"\xe0\x9f\xbf",
    "overlong-f0-80-80-80": b"\xf0\x80\x80\x80",
    "overlong-f0-8f-bf-bf": b"\xf0\x8f\xbf\xbf",
    "overlong-slash": b"\xc0\xaf",
    "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-dfff": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80",
    "f7": b"\xf7\xbf\xbf\xbf",
    "5-byte": b"\xf8\x88\x80\x80\x80",
    "6-byte": b"\xfc\x84\x80\x80\x80\x80",
    "fe": b"\xfe",
    "ff": b"\xff",
    "fe-fe-ff-ff": b"\xfe\xfe\xff\xff",
    "start-then-ascii-2": b"\xc2\x41",
    "start-then-ascii-3": b"\xe2\x28\xa1",
    "truncated-2": b"\xce",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x98",
    "kosme-truncated": "κόσμε".encode() + b"\xce",
    "kosme-surrogate-edited": "κόσμε".encode() + b"\xed\xa0\x80" + b"edited",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_utf8_single_frame(server, name):
    with _open(server) as ws:
        ws.echo(OP_TEXT, VALID[name])
        ws.close_handshake()


def test_all_valid_in_one_connection_fragmented_per_byte(server):
    with _open(server) as ws:
        for name in sorted(VALID):
            p = VALID[name]
            if len(p) < 2:
                continue
            data = wsraw.text(p[:1], fin=False)
            data += b"".join(wsraw.cont(p[i:i + 1], fin=False) for i in range(1, len(p) - 1))
            data += wsraw.cont(p[-1:])
            ws.send(data)
            ws.expect_message(OP_TEXT, p)
        ws.close_handshake()


def test_valid_multibyte_split_at_every_position(server):
    p = "aκόσμε€𝄞😀\u0800\U0010ffffz".encode()
    with _open(server) as ws:
        for i in range(1, len(p)):
            ws.send(wsraw.text(p[:i], fin=False) + wsraw.cont(p[i:]))
            ws.expect_message(OP_TEXT, p)
        # three fragments, cuts inside code points
        for i in range(1, len(p) - 1, 3):
            j = min(len(p) - 1, i + 2)
            ws.send(wsraw.text(p[:i], fin=False) + wsraw.cont(p[i:j], fin=False)
                    + wsraw.cont(p[j:]))
            ws.expect_message(OP_TEXT, p)
        ws.close_handshake()


def test_large_valid_multibyte_text(server):
    p = ("κόσμε €𝄞 ✓ 日本 " * 8000).encode()
    with _open(server) as ws:
        ws.echo(OP_TEXT, p, timeout=10)
        # and fragmented in odd-sized chunks that cut through code points
        chunks = [p[i:i + 777] for i in range(0, len(p), 777)]
        data = wsraw.text(chunks[0], fin=False)
        data += b"".join(wsraw.cont(c, fin=False) for c in chunks[1:-1])
        data += wsraw.cont(chunks[-1])
        ws.send(data)
        ws.expect_message(OP_TEXT, p, timeout=10)
        ws.close_handshake()


def test_binary_messages_not_utf8_validated(server):
    with _open(server) as ws:
        for name in sorted(INVALID):
            ws.echo(OP_BINARY, INVALID[name])
        ws.close_handshake()


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_utf8_single_frame_1007(server, name):
    with _open(server) as ws:
        ws.send(wsraw.text(INVALID[name]))
        ws.expect_fail(1007)


@pytest.mark.parametrize("name", ["overlong-c0-80", "surrogate-d800", "above-10ffff",
                                  "truncated-3", "ff"])
def test_invalid_utf8_after_valid_message(server, name):
    with _open(server) as ws:
        ws.send(wsraw.text("valid first") + wsraw.text(INVALID[name]) + wsraw.ping(b"no"))
        ws.expect_message(OP_TEXT, "valid first")
        ws.expect_fail(1007)


def test_invalid_utf8_at_end_of_large_message(server):
    p = ("κόσμε " * 20000).encode() + b"\xed\xa0\x80"
    with _open(server) as ws:
        ws.send(wsraw.text(p))
        ws.expect_fail(1007, timeout=10)


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                 b"\x80", b"ok\xe0\x80\x80ok"])
def test_invalid_utf8_in_second_fragment_fails_fast(server, bad):
    """The server must fail as soon as the 2nd fragment arrives, without
    waiting for the final fragment (which is never sent)."""
    with _open(server) as ws:
        ws.send(wsraw.text("κόσμε", fin=False))
        ws.expect_fragments("κόσμε".encode())  # valid: echoed at once, still open
        t0 = time.monotonic()
        ws.send(wsraw.cont(bad, fin=False))
        ws.expect_fail(1007, timeout=3)
        assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("first,second", [
    (b"\xed", b"\xa0\x80more"),         # surrogate split across fragments
    (b"\xf4", b"\x90\x80\x80more"),     # > U+10FFFF split
    (b"\xe0", b"\x80\x80more"),         # overlong split
    (b"\xce", b"Amore"),                # truncated sequence followed by ASCII
])
def test_invalid_sequence_split_across_fragments_fails_fast(server, first, second):
    with _open(server) as ws:
        ws.send(wsraw.text(b"abc" + first, fin=False))
        ws.expect_fragments(b"abc" + first)  # a fragment may end inside a code point
        ws.send(wsraw.cont(second, fin=False))
        ws.expect_fail(1007, timeout=3)


def test_invalid_first_fragment_fails_fast(server):
    with _open(server) as ws:
        ws.send(wsraw.text(b"abc\xff", fin=False))
        ws.expect_fail(1007, timeout=3)


@pytest.mark.parametrize("tail", [b"\xe2\x82", b"\xf0\x9f\x98", b"\xce"])
def test_truncated_sequence_at_end_of_fragmented_message(server, tail):
    with _open(server) as ws:
        ws.send(wsraw.text(b"abc", fin=False) + wsraw.cont(tail, fin=False))
        ws.expect_fragments(b"abc" + tail)  # incomplete so far, but not (yet) invalid
        ws.send(wsraw.cont(b""))
        ws.expect_fail(1007, timeout=3)


def test_code_point_completed_in_final_fragment(server):
    with _open(server) as ws:
        ws.send(wsraw.text(b"price: \xe2", fin=False) + wsraw.cont(b"\x82", fin=False)
                + wsraw.cont(b"\xac"))
        ws.expect_message(OP_TEXT, "price: €")
        ws.close_handshake()
