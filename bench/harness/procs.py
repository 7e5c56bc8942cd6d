"""Processes the harness starts: a group of echo servers sharing one port, and one run of
the load generator. Each is started in its own session, stopped by its PID (SIGTERM, then
SIGKILL after a bounded wait) and never looked up by name.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from . import system

LISTEN_RE = re.compile(r"(?<!TLS )listening on (?:\[[^\]]*\]|[^\s:]+):(\d+)")
TLS_LISTEN_RE = re.compile(r"TLS listening on (?:\[[^\]]*\]|[^\s:]+):(\d+)")
# millionws-load's progress line (stderr, once a second unless --quiet); the phase is the
# least advanced worker's.
PROGRESS_RE = re.compile(r"\[\s*([\d.]+)s\]\s+(\w+)\s+conns (\d+)/(\d+) .*?open (\d+) "
                         r"inflight (\d+) failed (\d+)")


def free_port(host="127.0.0.1"):
    """A port nobody listens on right now (for admin endpoints, which cannot use port 0)."""
    import socket
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_pid(proc, timeout, sig=signal.SIGTERM):
    """Signal one child (unless sig is None: already signalled), wait up to timeout, then
    SIGKILL its session; returns its exit code."""
    if proc.poll() is None:
        if sig is not None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    return proc.returncode


def tls_pair(directory):
    """A self-signed ECDSA P-256 pair for kind millionws-tls (as `just tls-cert` makes)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.is_file():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    return cert, key


class ServerGroup:
    """`count` server processes of one kind on one port (SO_REUSEPORT). Kind millionws-tls is
    MillionWS with its wss:// listener (a test pair in logdir) as the port under load."""

    def __init__(self, kind, binary, count, threads, logdir, bind="127.0.0.1", port=0,
                 admin=False, log=print):
        self.kind, self.binary, self.count, self.threads = kind, str(binary), count, threads
        self.logdir, self.bind, self.port, self.admin = Path(logdir), bind, port, admin
        self.log = log
        self.procs, self.logs, self.admin_ports = [], [], []
        self.exit_codes = []
        self.tls = tls_pair(self.logdir / "tls") if kind == "millionws-tls" else None
        self.tls_port = 0

    def url(self):
        """The URL the load generator targets."""
        if self.tls:
            return f"wss://{self.bind}:{self.tls_port}/echo"
        return f"ws://{self.bind}:{self.port}/echo"

    def load_flags(self):
        """Flags the load generator needs for this kind (the test pair is self-signed)."""
        return ["--insecure"] if self.tls else []

    def _argv(self, port, admin_port):
        if self.kind in ("millionws", "millionws-tls"):
            argv = [self.binary, "--bind", self.bind, "--port", str(port),
                    "--threads", str(self.threads),
                    "--admin-bind", "127.0.0.1", "--admin-port", str(admin_port),
                    "--drain-timeout", "2s"]
            if self.tls:
                argv += ["--tls-port", str(self.tls_port), "--tls-cert", str(self.tls[0]),
                         "--tls-key", str(self.tls[1])]
            return argv
        return [self.binary, "-addr", f"{self.bind}:{port}"]

    def _env(self):
        env = dict(os.environ)
        if self.kind == "baseline":
            env["GOMAXPROCS"] = str(self.threads)
        return env

    def argv_example(self):
        return self._argv(self.port or "PORT", "ADMIN_PORT" if self.admin else 0)

    def start(self, timeout=20.0):
        self.logdir.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            admin_port = free_port() if self.admin and self.kind == "millionws" else 0
            path = self.logdir / f"{self.kind}-{i}.log"
            with open(path, "wb") as err:
                proc = subprocess.Popen(self._argv(self.port, admin_port), stdin=subprocess.DEVNULL,
                                        stdout=err, stderr=err, env=self._env(),
                                        start_new_session=True)
            self.procs.append(proc)
            self.logs.append(path)
            self.admin_ports.append(admin_port)
            port = self._wait_listening(proc, path, timeout)
            if self.port == 0:
                self.port = port  # the first one picked it; the others share it
            elif port != self.port:
                raise RuntimeError(f"{self.kind} #{i} listens on {port}, expected {self.port}")
            if self.tls:
                tls_port = self._wait_listening(proc, path, timeout, TLS_LISTEN_RE)
                if self.tls_port == 0:
                    self.tls_port = tls_port
                elif tls_port != self.tls_port:
                    raise RuntimeError(f"{self.kind} #{i} serves TLS on {tls_port}, expected "
                                       f"{self.tls_port}")
        return self

    def _wait_listening(self, proc, path, timeout, pattern=LISTEN_RE):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(path.read_text(errors="replace"))
            if m:
                return int(m.group(1))
            if proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {proc.returncode} before listening:\n"
                                   f"{_tail(path)}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not log 'listening on' within {timeout}s:\n"
                           f"{_tail(path)}")

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def dead(self):
        return [(p.pid, p.returncode) for p in self.procs if p.poll() is not None]

    def metrics(self):
        """Selected counters from each millionws admin endpoint (when enabled)."""
        import urllib.request
        out = []
        for port in self.admin_ports:
            if not port:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError as e:
                out.append({"port": port, "error": str(e)})
                continue
            vals = {}
            for line in text.splitlines():
                if line.startswith("millionws_") and "{" not in line:
                    name, _, value = line.partition(" ")
                    try:
                        vals[name] = float(value)
                    except ValueError:
                        pass
            out.append({"port": port, "values": vals})
        return out

    def stop(self, timeout=20.0):
        """SIGTERM all, then wait; returns [(pid, exit code)] (negative: killed by signal)."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        self.exit_codes = []
        for p in self.procs:
            code = _stop_pid(p, max(0.1, deadline - time.monotonic()), sig=None)
            self.exit_codes.append((p.pid, code))
        return self.exit_codes

    def bad_exits(self):
        return [{"pid": pid, "exit_code": code, "log_tail": _tail(path, 5)}
                for (pid, code), path in zip(self.exit_codes, self.logs) if code != 0]


class LoadRun:
    """One millionws-load invocation in the background; JSON summary from its stdout."""

    def __init__(self, binary, args, logdir, name, timeout):
        self.argv = [str(binary), *[str(a) for a in args]]
        self.logdir, self.name, self.timeout = Path(logdir), name, timeout
        self.proc = None
        self.rusage = None
        self.started = self.ended = None

    def start(self):
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.out_path = self.logdir / f"{self.name}.stdout"
        self.err_path = self.logdir / f"{self.name}.stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True)
        self.started = time.monotonic()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def pids(self):
        """The load generator and its worker processes (for RSS and CPU sampling)."""
        if self.proc.returncode is not None:
            return []
        return [self.proc.pid, *system.proc_children(self.proc.pid)]

    def poll(self):
        """Exit code or None; reaps with wait4 so the children's CPU time is recorded."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
        except ChildProcessError:
            return self.proc.poll()
        if pid == 0:
            return None
        self.rusage = {"user_seconds": ru.ru_utime, "system_seconds": ru.ru_stime,
                       "max_rss_bytes": ru.ru_maxrss * 1024}
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.ended = time.monotonic()
        return self.proc.returncode

    def remaining(self):
        return self.timeout - (time.monotonic() - self.started)

    def wait(self, poll_interval=0.2, on_tick=None):
        """Wait for exit within the run's timeout (then stop it); returns the exit code."""
        while self.poll() is None:
            if self.remaining() <= 0:
                self.stop()
                raise TimeoutError(f"{self.name}: load generator still running after "
                                   f"{self.timeout:.0f}s; stopped it\n{_tail(self.err_path)}")
            if on_tick:
                on_tick()
            time.sleep(poll_interval)
        return self.proc.returncode

    def stop(self):
        if self.proc and self.proc.returncode is None:
            _stop_pid(self.proc, 10)
            self.poll()

    def summary(self):
        """The JSON summary (last JSON object printed on stdout)."""
        text = self.out_path.read_text(errors="replace").strip()
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
        for line in reversed(text.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    continue
        raise RuntimeError(f"{self.name}: no JSON summary on stdout (exit {self.proc.returncode})"
                           f"\nstdout: {text[-500:]}\nstderr: {_tail(self.err_path)}")

    def summary_problems(self, summary, tag):
        """What went wrong in a finished run, read from its summary and exit status."""
        problems = []
        conns = summary.get("connections", {})
        if conns.get("failed"):
            problems.append(f"{tag}: {conns['failed']} connections failed: "
                            f"{conns.get('failed_by_reason')}")
        if conns.get("server_closed"):
            problems.append(f"{tag}: server closed {conns['server_closed']} connections")
        if summary.get("echo", {}).get("verify_errors"):
            problems.append(f"{tag}: {summary['echo']['verify_errors']} echoes did not match "
                            "what was sent")
        vs = summary.get("verify_sample", {})
        if vs.get("failed") or vs.get("ok", 0) < vs.get("requested", 0):
            problems.append(f"{tag}: verify sample {vs}")
        if self.proc.returncode != 0:
            problems.append(f"{tag}: load generator exit code {self.proc.returncode}: "
                            f"{self.stderr_tail(3)}")
        return problems

    def progress(self):
        """The latest progress line as a dict (phase, connected, open, failed...), or None."""
        try:
            with open(self.err_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                text = f.read().decode(errors="replace")
        except OSError:
            return None
        for line in reversed(text.splitlines()):
            m = PROGRESS_RE.search(line)
            if m:
                return {"elapsed": float(m.group(1)), "phase": m.group(2),
                        "connected": int(m.group(3)), "requested": int(m.group(4)),
                        "open": int(m.group(5)), "inflight": int(m.group(6)),
                        "failed": int(m.group(7))}
        return None

    def stderr_tail(self, lines=10):
        return _tail(self.err_path, lines)
