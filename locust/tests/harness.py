"""What the Locust checks and locust/measure.py share: the e2e suite's server fixture code,
Locust runs as child processes (Debian's python3-locust under /usr/bin/python3), their CSV
results, and the server's own /metrics.

The server side is not copied here: tests/e2e/conftest.py is loaded under another module name
(its Server class, free_port, http_get), so both suites start the server the same way.
"""

import csv
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCUST_DIR = HERE.parent
REPO = LOCUST_DIR.parent
LOCUSTFILE = LOCUST_DIR / "locustfile.py"
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-locust, -websocket and -gevent


def _load_e2e_conftest():
    name = "millionws_e2e_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "e2e" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


e2e = _load_e2e_conftest()


def metrics(admin_port):
    """The server's /metrics as {sample name with labels: value}."""
    status, body = e2e.http_get(admin_port, "/metrics", timeout=10)
    assert status == 200, status
    samples = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def metric(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all('%s="%s"' % item in rest for item in labels.items()):
            total += value
    return total


def read_stats(prefix):
    """Locust's PREFIX_stats.csv as {name: row}; the total row is under "Aggregated"."""
    with open("%s_stats.csv" % prefix, newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def read_failures(prefix):
    with open("%s_failures.csv" % prefix, newline="") as f:
        return list(csv.DictReader(f))


def count(stats, name, column="Request Count"):
    row = stats.get(name)
    return int(row[column]) if row else 0


def locust_env(**knobs):
    """The environment for a Locust child: ours, without LOCUST_*/MWS_* leaking in, plus knobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "MWS_"))}
    env.update({k: str(v) for k, v in knobs.items()})
    return env


class Proc:
    """A child process with its output in a file, stopped by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, log_path, env):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=LOCUST_DIR,
                                     start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def wait(self, timeout):
        """Exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(grace) is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode

    def log(self):
        return self.log_path.read_text(errors="replace")


def locust_argv(*args):
    return [PYTHON, "-m", "locust", "-f", LOCUSTFILE, *args]


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def start_server(binary, logdir, *flags):
    """A MillionWS server with its admin listener (/metrics) on a free loopback port, as the
    e2e suite's admin_server fixture makes it, for scripts outside pytest."""
    server = e2e.Server(binary, list(flags), logdir)
    port = e2e.free_port()
    server.args[server.args.index("--admin-port") + 1] = str(port)
    server.args += ["--admin-bind", "127.0.0.1"]
    server.start()
    server.admin_port = port
    if not e2e.wait_http_ok(port, "/health", timeout=10):
        server.stop()
        raise RuntimeError("millionws admin /health did not answer:\n" + server.log_tail())
    return server


def default_binary(name):
    """build/release/NAME unless MILLIONWS_BIN / MILLIONWS_LOAD_BIN say otherwise."""
    var = {"millionws": "MILLIONWS_BIN", "millionws-load": "MILLIONWS_LOAD_BIN"}[name]
    return os.environ.get(var) or str(REPO / "build" / "release" / name)
