"""Fixtures for the MillionWS end-to-end tests.

Run:  /usr/bin/python3 -m pytest -q tests/e2e --binary build/release/millionws
(or set MILLIONWS_BIN). Without a binary every test fails (never skipped).

Fixtures
  server          - a server shared by all tests of a module (flags from the
                    module's SERVER_FLAGS list), restarted if it died; each test
                    that uses it fails in teardown if the server crashed or
                    printed a sanitizer report during the test.
  server_factory  - start(*flags, env=None) -> Server, for tests that need
                    their own server (stopped at test teardown).
  admin_server    - a server of its own with the admin listener (/health, /metrics) on
                    a free loopback port, in admin_port.
  load_binary     - path of millionws-load (--load-binary, $MILLIONWS_LOAD_BIN, or
                    the one built next to the server).
Server objects expose host, port, admin_port, pid, proc, log_text(),
rss_kib(), alive(), stop().
"""

import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_BINARY = REPO / "build" / "release" / "millionws"

LISTEN_RE = re.compile(r"listening on \S+:(\d+)")
SANITIZER_RE = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
                          r"runtime error:|ERROR: UndefinedBehaviorSanitizer)")

DEFAULT_TEST_TIMEOUT = 90  # seconds, per test (setup+call+teardown)
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def pytest_addoption(parser):
    group = parser.getgroup("millionws")
    group.addoption("--binary", action="store", default=None,
                    help="path to the millionws server binary (fallback: $MILLIONWS_BIN, "
                         "then build/release/millionws)")
    group.addoption("--load-binary", action="store", default=None,
                    help="path to the millionws-load binary (fallback: $MILLIONWS_LOAD_BIN, "
                         "then the millionws-load next to --binary's build)")
    group.addoption("--tls", action="store_true", default=False,
                    help="run the WebSocket traffic over wss://: every server also serves TLS "
                         "(a self-signed test pair), server.port is its TLS port, and wsraw "
                         "speaks TLS (server.plain_port is the ws:// one)")


# Under --tls: the flags every server gets, and the client context wsraw uses.
TLS_FLAGS = []


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running e2e test")
    if config.getoption("--tls"):
        import ssl
        import tempfile
        import tlsutil
        import wsraw
        cert, key = tlsutil.make_pair(tempfile.mkdtemp(prefix="mws-e2e-tls-"), "suite")
        TLS_FLAGS[:] = ["--tls-port", "0", "--tls-cert", cert, "--tls-key", key]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        wsraw.TLS_CONTEXT = ctx
    # 1000+ concurrent sockets need a bigger fd limit than the usual 1024.
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def pytest_collection_modifyitems(config, items):
    # Every e2e test gets a timeout so nothing can hang forever.
    for item in items:
        try:
            inside = Path(str(getattr(item, "path", None) or item.fspath)).resolve().is_relative_to(HERE)
        except Exception:
            inside = False
        if inside and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))


def _resolve_binary(config):
    cand = config.getoption("--binary") or os.environ.get("MILLIONWS_BIN")
    source = "--binary" if config.getoption("--binary") else "MILLIONWS_BIN"
    if not cand:
        cand, source = str(DEFAULT_BINARY), "default path"
    p = Path(cand)
    if not p.is_absolute():
        p = (Path(os.getcwd()) / p).resolve()
    if not p.is_file() or not os.access(p, os.X_OK):
        return None, "millionws binary not found or not executable: %s (from %s). " \
                     "Pass --binary PATH or set MILLIONWS_BIN." % (p, source)
    return str(p), None


@pytest.fixture(scope="session")
def binary(pytestconfig):
    path, err = _resolve_binary(pytestconfig)
    if path is None:
        pytest.fail(err, pytrace=False)
    return path


@pytest.fixture(scope="session")
def load_binary(pytestconfig, binary):
    cand = pytestconfig.getoption("--load-binary") or os.environ.get("MILLIONWS_LOAD_BIN")
    p = Path(cand) if cand else Path(binary).parent / "millionws-load"
    if not p.is_absolute():
        p = (Path(os.getcwd()) / p).resolve()
    if not p.is_file() or not os.access(p, os.X_OK):
        pytest.fail("millionws-load binary not found or not executable: %s. Pass --load-binary "
                    "PATH or set MILLIONWS_LOAD_BIN." % p, pytrace=False)
    return str(p)


@pytest.fixture(scope="session")
def logdir(tmp_path_factory):
    return tmp_path_factory.mktemp("millionws-logs")


class Server:
    _seq = 0

    def __init__(self, binary, flags, logdir, env=None):
        Server._seq += 1
        self.binary = binary
        self.host = "127.0.0.1"
        # The admin listener is off unless the test asks for it with its own --admin-port.
        admin_off = [] if "--admin-port" in [str(f) for f in flags] else ["--admin-port", "0"]
        self.args = [binary, "--bind", self.host, "--port", "0"] + admin_off + [
            "--threads", "2"] + TLS_FLAGS + [str(f) for f in flags]
        self.flags = list(flags)
        self.log_path = Path(logdir) / ("server-%03d.log" % Server._seq)
        self.extra_env = dict(env or {})
        self.proc = None
        self.port = None
        self.admin_port = None
        self.returncode = None
        self.killed = False
        self.stop_elapsed = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        env = {k: v for (k, v) in os.environ.items() if not k.startswith("MILLIONWS_")}
        env.update(self.extra_env)
        self._logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log_text()
            for line in text.splitlines():
                m = LISTEN_RE.search(line)
                if not m:
                    continue
                if "admin" in line.lower():
                    if self.admin_port is None:
                        self.admin_port = int(m.group(1))
                    continue
                if self.port is None:
                    self.port = int(m.group(1))
            if self.port is not None:
                if TLS_FLAGS:
                    import tlsutil
                    self.plain_port = self.port
                    self.port = self.tls_port = tlsutil.tls_port(self)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        rc = self.proc.poll()
        self.stop()
        raise AssertionError("millionws did not report 'listening on HOST:PORT' within %.0fs "
                             "(exit code %r).\ncommand: %s\n--- log ---\n%s"
                             % (STARTUP_TIMEOUT, rc, " ".join(self.args), self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, offset=0, max_chars=20000):
        t = self.log_text(offset)
        if len(t) > max_chars:
            t = "...[truncated]...\n" + t[-max_chars:]
        return t

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def wait_open_fds(self, count, timeout=10.0):
        """Waits until the server holds `count` descriptors again: the connections a test
        closed are released (not just closed on our side)."""
        deadline = time.monotonic() + timeout
        while self.open_fds() != count:
            if time.monotonic() > deadline:
                raise AssertionError("server holds %d descriptors after %.0fs, expected %d"
                                     % (self.open_fds(), timeout, count))
            time.sleep(0.02)

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            t0 = time.monotonic()
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
            self.stop_elapsed = time.monotonic() - t0
        self.returncode = self.proc.returncode
        try:
            self._logf.close()
        except Exception:
            pass
        return self.returncode

    def sanitizer_report(self, offset=0):
        t = self.log_text(offset)
        m = SANITIZER_RE.search(t)
        if m:
            return t[max(0, m.start() - 200):m.start() + 6000]
        return None

    def __repr__(self):
        return "Server(pid=%s port=%s flags=%r)" % (self.proc and self.proc.pid, self.port, self.flags)


def _attach(request, server):
    """Remember (server, log offset) so the log is printed if the test fails."""
    lst = getattr(request.node, "_millionws_servers", None)
    if lst is None:
        lst = []
        request.node._millionws_servers = lst
    lst.append((server, server.log_size()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for server, offset in getattr(item, "_millionws_servers", []):
            rep.sections.append(("millionws log (pid %s, port %s, flags %s) [%s]"
                                 % (server.proc.pid if server.proc else None, server.port,
                                    " ".join(server.flags), rep.when),
                                 server.log_tail(offset)))


def _check_stopped(server, expect_clean=True):
    problems = []
    san = server.sanitizer_report()
    if san:
        problems.append("sanitizer report in server log:\n" + san)
    if expect_clean:
        if server.killed:
            problems.append("server did not exit within %.0fs of SIGTERM and was SIGKILLed"
                            % STOP_TIMEOUT)
        elif server.returncode != 0:
            problems.append("server exited with code %r after SIGTERM (expected 0)" % server.returncode)
    return problems


class _Factory:
    def __init__(self, binary, logdir, request):
        self.binary = binary
        self.logdir = logdir
        self.request = request
        self.servers = []

    def start(self, *flags, env=None):
        s = Server(self.binary, flags, self.logdir, env=env)
        self.servers.append(s)
        s.start()
        _attach(self.request, s)
        return s

    def __call__(self, *flags, env=None):
        return self.start(*flags, env=env)


@pytest.fixture
def server_factory(binary, logdir, request):
    fac = _Factory(binary, logdir, request)
    yield fac
    problems = []
    for s in fac.servers:
        already_exited = s.proc is not None and s.proc.poll() is not None
        s.stop()
        # A test that stopped the server itself checks the exit code itself.
        probs = _check_stopped(s, expect_clean=not already_exited)
        problems += ["%r: %s" % (s, p) for p in probs]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


class _Shared:
    def __init__(self, binary, logdir, flags):
        self.binary = binary
        self.logdir = logdir
        self.flags = flags
        self.current = None
        self.dead = []

    def get(self):
        if self.current is None or not self.current.alive():
            if self.current is not None:
                self.current.stop()
                self.dead.append(self.current)
            self.current = Server(self.binary, self.flags, self.logdir)
            self.current.start()
        return self.current


@pytest.fixture(scope="module")
def _shared_server(binary, logdir, request):
    flags = list(getattr(request.module, "SERVER_FLAGS", []))
    sh = _Shared(binary, logdir, flags)
    yield sh
    problems = []
    if sh.current is not None:
        sh.current.stop()
        problems += _check_stopped(sh.current, expect_clean=True)
    if problems:
        pytest.fail("shared server %r at module teardown:\n%s" % (sh.current, "\n".join(problems)),
                    pytrace=False)


@pytest.fixture
def server(_shared_server, request):
    s = _shared_server.get()
    _attach(request, s)
    offset = s.log_size()
    yield s
    # Let a crash triggered by the test's last bytes surface.
    time.sleep(0.01)
    if not s.alive():
        pytest.fail("millionws died during this test (exit code %r)" % s.proc.poll(), pytrace=False)
    san = s.sanitizer_report(offset)
    if san:
        pytest.fail("sanitizer report during this test:\n" + san, pytrace=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http_ok(port, path, timeout, still_alive=lambda: None, interval=0.05):
    """Poll http://127.0.0.1:port/path until it answers 200 (True) or timeout passes (False).

    still_alive() runs between attempts, so a fixture can fail fast with its process's log
    when what it waits for has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(port, path)[0] == 200:
                return True
        except OSError:
            pass
        still_alive()
        time.sleep(interval)
    return False


@pytest.fixture
def admin_server(binary, logdir, request):
    """A server with its admin listener on a free loopback port."""
    s = Server(binary, [], logdir)
    port = free_port()
    i = s.args.index("--admin-port")
    s.args[i + 1] = str(port)
    s.args += ["--admin-bind", "127.0.0.1"]
    s.start()
    s.admin_port = port
    wait_http_ok(port, "/health", timeout=10)
    yield s
    s.stop()
    assert s.sanitizer_report() is None, s.sanitizer_report()
