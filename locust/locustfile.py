"""Locust users for MillionWS: WebSocket clients on gevent with websocket-client.

  HoldUser  connects once and holds the connection, pinging it every MWS_PING_INTERVAL seconds
            (connection-count scenarios: how many connections the server holds, and does it
            keep answering them).
  EchoUser  sends MWS_MESSAGE_BYTES-byte messages, MWS_ECHO_RATE a second, and checks that
            every echo comes back byte for byte.

Every WebSocket exchange is a Locust request event of type "WS", so Locust's statistics, charts
and CSV files show its latency percentiles and failures:

  connect   the upgrade (TCP connect, HTTP request, 101 response); fails on refusal, a status
            other than 101, a bad Sec-WebSocket-Accept, a timeout
  echo      one message's round trip; fails on a wrong byte, a wrong length or opcode, a
            close, a timeout
  ping      a held connection's ping-to-pong round trip; fails on a close or a timeout

`--host http://HOST:PORT` (or ws://HOST:PORT) means ws://HOST:PORT/echo (https:// gives
wss://); a host with a path keeps it. Knobs, from the environment (defaults in brackets):

  MWS_PATH             path when --host has none [/echo]
  MWS_CONNECT_TIMEOUT  seconds for the upgrade [10]
  MWS_PING_INTERVAL    HoldUser: seconds between pings, each +-10% [30]
  MWS_MESSAGE_BYTES    EchoUser: payload size [32]
  MWS_MESSAGE_TYPE     EchoUser: binary or text (ASCII) [binary]
  MWS_ECHO_RATE        EchoUser: messages a second per user; 0 sends the next as soon as the
                       echo is back [1]
  MWS_ECHO_TIMEOUT     EchoUser: seconds to wait for an echo [5]
  MWS_HOLD_WEIGHT      HoldUser's weight among the users spawned; 0 leaves it out [1]
  MWS_ECHO_WEIGHT      EchoUser's weight; 0 leaves it out [1]
  MWS_FINAL_STATS      a path: when Locust quits, write the final counts and percentiles
                       there as JSON (local runner or master; master.sh sets it) [unset]

Runs on Debian's python3-locust 2.12.1 and on the upstream image (locust/requirements.txt):
only API both have is used (User, task, between, constant, constant_throughput, on_start,
on_stop, events.request.fire, events.quitting, environment.stats).
"""

import json
import os
import random
import string
import sys
import time

import locust
import locust.runners
import websocket
from gevent import GreenletExit
from locust import User, between, constant, constant_throughput, events, task


def _debian_version_shim():
    """Debian's python3-locust 2.12.1 leaves locust.__version__ empty. A worker announces
    itself to the master with that string, and the master takes an empty one for a pre-2.0
    worker and turns it away, so a distributed run never starts. Put the version back, only
    when it is missing: packages that carry their version (pip's, the locustio/locust image)
    are not touched. The value only has to be non-empty and the same on master and workers,
    which load this same file."""
    if locust.__version__:
        return
    version = "2.12.1"  # Debian 12's python3-locust, the package that has this defect
    locust.__version__ = version
    locust.runners.__version__ = version  # what a worker sends and the master compares
    main = sys.modules.get("locust.main")
    if main is not None:
        main.version = version  # the "Starting Locust ..." log line


_debian_version_shim()


def _env_number(name, default, kind=float, minimum=0):
    raw = os.environ.get(name, "")
    try:
        value = kind(raw) if raw.strip() else default
    except ValueError:
        raise SystemExit("%s=%r is not a number" % (name, raw)) from None
    if value < minimum:
        raise SystemExit("%s=%r is below %s" % (name, raw, minimum))
    return value


PATH = os.environ.get("MWS_PATH", "/echo")
CONNECT_TIMEOUT = _env_number("MWS_CONNECT_TIMEOUT", 10.0, minimum=0.001)
PING_INTERVAL = _env_number("MWS_PING_INTERVAL", 30.0, minimum=0.001)
MESSAGE_BYTES = _env_number("MWS_MESSAGE_BYTES", 32, kind=int)
MESSAGE_TYPE = os.environ.get("MWS_MESSAGE_TYPE", "binary")
ECHO_RATE = _env_number("MWS_ECHO_RATE", 1.0)
ECHO_TIMEOUT = _env_number("MWS_ECHO_TIMEOUT", 5.0, minimum=0.001)
HOLD_WEIGHT = _env_number("MWS_HOLD_WEIGHT", 1, kind=int)
ECHO_WEIGHT = _env_number("MWS_ECHO_WEIGHT", 1, kind=int)
if MESSAGE_TYPE not in ("binary", "text"):
    raise SystemExit("MWS_MESSAGE_TYPE=%r: binary or text" % MESSAGE_TYPE)

OPCODE = websocket.ABNF.OPCODE_TEXT if MESSAGE_TYPE == "text" else websocket.ABNF.OPCODE_BINARY
TEXT_ALPHABET = (string.ascii_letters + string.digits).encode()


@events.quitting.add_listener
def write_final_stats(environment, **_kwargs):
    """Locust 2.12 rewrites its CSV files once a second and not again at exit, so they can miss
    the last second of a run. This takes the totals when Locust quits (on the master after the
    workers' last reports) and writes them to MWS_FINAL_STATS as JSON."""
    path = os.environ.get("MWS_FINAL_STATS")
    if not path or isinstance(environment.runner, locust.runners.WorkerRunner):
        return

    def entry(e):
        return {"type": e.method, "requests": e.num_requests, "failures": e.num_failures,
                "avg_ms": e.avg_response_time, "max_ms": e.max_response_time,
                **{"p%s_ms" % q: e.get_response_time_percentile(q / 100)
                   for q in (50, 90, 99, 99.9)}}

    stats = environment.stats
    final = {
        "requests": {e.name: entry(e) for e in stats.entries.values()},
        "total": entry(stats.total),
        # An error is the exception itself locally, its repr once it came from a worker.
        "errors": [{"name": e.name, "occurrences": e.occurrences,
                    "error": e.error if isinstance(e.error, str) else repr(e.error)}
                   for e in stats.errors.values()],
    }
    with open(path, "w") as f:
        json.dump(final, f, indent=1)


class EchoMismatch(Exception):
    """The echo differs from what was sent."""


class ConnectionClosed(Exception):
    """The server closed the connection (a Close frame or EOF)."""


class NotConnected(Exception):
    """The connection was lost earlier and could not be made again."""


def websocket_url(host):
    """--host as a WebSocket URL: http -> ws, https -> wss, MWS_PATH when it has no path."""
    if not host:
        raise SystemExit("no target: pass --host http://HOST:PORT (or set LOCUST_HOST)")
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "http", host
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(scheme.lower())
    if scheme is None:
        raise SystemExit("--host %r: use http://, https://, ws:// or wss://" % host)
    authority, slash, path = rest.partition("/")
    path = "/" + path if slash and path else PATH
    return "%s://%s%s" % (scheme, authority, path)


def make_payload(size):
    if OPCODE == websocket.ABNF.OPCODE_TEXT:
        return bytes(random.choices(TEXT_ALPHABET, k=size))
    return os.urandom(size)


def first_difference(sent, got):
    """Where an echo went wrong, in words that repeat: Locust keeps one error entry per distinct
    message, so a message with the bytes in it would grow by one entry per failure."""
    for i, (a, b) in enumerate(zip(sent, got)):
        if a != b:
            return "byte %d differs" % i
    return "length: sent %d bytes, got %d" % (len(sent), len(got))


class WebSocketUser(User):
    """One WebSocket connection per user, reported through events.request.fire."""

    abstract = True

    def on_start(self):
        self.url = websocket_url(self.host)
        self.ws = None
        self.sent = False  # the current exchange's frame is out whole
        self.connect()

    def on_stop(self):
        self.drop(status=websocket.STATUS_NORMAL)

    def report(self, name, started, length=0, exception=None):
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length,
            response=None,
            context={},
            exception=exception,
        )

    def connect(self):
        started = time.perf_counter()
        try:
            # One greenlet per connection: no lock needed. Echoes are compared byte for byte,
            # which is stricter than (and saves) websocket-client's UTF-8 check of text.
            self.ws = websocket.create_connection(
                self.url, timeout=CONNECT_TIMEOUT, enable_multithread=False,
                skip_utf8_validation=True)
        except Exception as e:  # refused, 503, bad accept key, timeout: all are failures
            self.ws = None
            self.report("connect", started, exception=e)
            return False
        self.report("connect", started)
        return True

    def connected(self):
        """The connection, made again if an earlier failure dropped it."""
        if self.ws is None and not self.connect():
            return False
        return True

    def drop(self, status=websocket.STATUS_GOING_AWAY):
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close(status=status, timeout=1)
            except Exception:
                pass  # already gone: nothing left to release but the socket, closed below
            ws.shutdown()

    def exchange(self, name, send, is_reply, check, timeout):
        """One round trip, reported as request `name`: send() one frame, read frames until
        is_reply(opcode, data), then check(opcode, data) gives the failure (or None). A send
        error, a Close, EOF or the timeout is a failure and drops the connection."""
        started = time.perf_counter()
        try:
            send()
            opcode, data = self.read_reply(is_reply, started + timeout)
        except GreenletExit:
            self.finish_after_kill(name, started, is_reply, check, timeout)
            raise
        except Exception as e:
            self.report(name, started, exception=e)
            self.drop()
            return
        self.report(name, started, len(data), check(opcode, data))

    def finish_after_kill(self, name, started, is_reply, check, timeout):
        """Locust stops a user it finds waiting by killing its greenlet, and gevent delivers the
        kill a moment later, when the user may already be inside its next exchange. If the frame
        went out whole, wait for the reply and report it, so that every message the server
        received is counted here too. (A kill inside send() leaves a partial frame, which the
        server does not count either: self.sent is only set once the frame is out.)"""
        if not self.sent:
            return
        try:
            opcode, data = self.read_reply(is_reply, started + timeout)
        except Exception as e:
            self.report(name, started, exception=e)
        else:
            self.report(name, started, len(data), check(opcode, data))

    def send_frame(self, payload, opcode):
        self.sent = False
        self.ws.send(payload, opcode=opcode)
        self.sent = True

    def read_reply(self, is_reply, deadline):
        """Frames until is_reply(opcode, data) is true: (opcode, data). The server's pings are
        answered inside websocket-client (and skipped here)."""
        while True:
            self.ws.settimeout(max(deadline - time.perf_counter(), 0.001))
            opcode, frame = self.ws.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionClosed("server sent Close")
            if is_reply(opcode, frame.data):
                return opcode, frame.data


def is_data(opcode, _data):
    return opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY)


class HoldUser(WebSocketUser):
    """Holds one connection; pings it now and then to show it is still served."""

    weight = HOLD_WEIGHT
    wait_time = between(PING_INTERVAL * 0.9, PING_INTERVAL * 1.1)

    @task
    def ping(self):
        if not self.connected():
            return
        payload = b"%x" % random.getrandbits(48)

        def is_pong(opcode, data):
            if is_data(opcode, data):
                raise EchoMismatch("data message on a held connection")
            return opcode == websocket.ABNF.OPCODE_PONG and data == payload

        self.exchange("ping", lambda: self.send_frame(payload, websocket.ABNF.OPCODE_PING),
                      is_pong, lambda opcode, data: None, CONNECT_TIMEOUT)


class EchoUser(WebSocketUser):
    """Sends messages and checks every echo byte for byte."""

    weight = ECHO_WEIGHT
    wait_time = constant_throughput(ECHO_RATE) if ECHO_RATE > 0 else constant(0)

    @task
    def echo(self):
        if not self.connected():
            self.report("echo", time.perf_counter(), exception=NotConnected("no connection"))
            return
        payload = make_payload(MESSAGE_BYTES)

        def check(opcode, data):
            if opcode != OPCODE:
                return EchoMismatch("opcode: sent %d, got %d" % (OPCODE, opcode))
            if data != payload:
                return EchoMismatch(first_difference(payload, data))
            return None

        self.exchange("echo", lambda: self.send_frame(payload, OPCODE), is_data, check,
                      ECHO_TIMEOUT)
