#!/usr/bin/python3
"""A deliberately broken WebSocket echo server: the stand-in that proves the Locust checks fail.

It completes RFC 6455 handshakes, answers pings with pongs and Close with Close like MillionWS,
but flips the low bit of the middle byte of every data message it echoes (ASCII stays ASCII, so
text stays valid UTF-8). `--mode echo` echoes faithfully instead, to show that the failures come
from the corruption and not from the stand-in itself.

  broken_echo.py [--mode corrupt|echo]   prints "listening on 127.0.0.1:PORT" (a free port),
                                         serves until SIGTERM/SIGINT
One thread per connection: for the few dozen connections of a check, not for load.
"""

import argparse
import base64
import hashlib
import signal
import socket
import socketserver
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exactly(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("EOF")
        out += chunk
    return bytes(out)


def frame(opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class Handler(socketserver.BaseRequestHandler):
    corrupt = True

    def handshake(self):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.request.recv(4096)
            if not chunk:
                return False
            request += chunk
        key = None
        for line in request.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        if key is None:
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return False
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.request.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                             b"\r\n\r\n")
        return True

    def handle(self):
        try:
            if not self.handshake():
                return
            message, message_opcode = bytearray(), 0
            while True:
                b0, b1 = read_exactly(self.request, 2)
                fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", read_exactly(self.request, 2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", read_exactly(self.request, 8))[0]
                mask = read_exactly(self.request, 4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(read_exactly(self.request, n)))
                if opcode == 0x8:  # Close: answer with the same code, then hang up
                    self.request.sendall(frame(0x8, data[:2]))
                    return
                if opcode == 0x9:
                    self.request.sendall(frame(0xA, data))
                    continue
                if opcode == 0xA:
                    continue
                if opcode != 0x0:
                    message_opcode = opcode
                message += data
                if not fin:
                    continue
                echoed = bytearray(message)
                if self.corrupt and echoed:
                    echoed[len(echoed) // 2] ^= 0x01
                self.request.sendall(frame(message_opcode, bytes(echoed)))
                message = bytearray()
        except (ConnectionError, OSError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("corrupt", "echo"), default="corrupt")
    args = parser.parse_args()
    Handler.corrupt = args.mode == "corrupt"
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on 127.0.0.1:%d (%s)" % (server.server_address[1], args.mode), flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
