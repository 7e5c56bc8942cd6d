"""millionws-load against the real server: the instrument behind every benchmark figure.

Each test runs the load generator binary as a user would and checks its JSON summary, against
what the server itself saw (its log, its /metrics) where the server can tell.
"""

import json
import subprocess
import time

from conftest import free_port, http_get


def run_load(load_binary, url, *args, timeout=60):
    argv = [load_binary, "--url", url, "--quiet", *[str(a) for a in args]]
    started = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - started
    summary = None
    if proc.stdout.strip():
        summary = json.loads(proc.stdout)
    return proc, summary, elapsed


def echo_url(server):
    return "ws://%s:%d/echo" % (server.host, server.port)


def metric(admin_port, name):
    """Sum of a metric's samples on the server's own /metrics."""
    status, body = http_get(admin_port, "/metrics", timeout=10)
    assert status == 200, status
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_closed_loop_across_processes_and_source_addresses(server_factory, load_binary):
    s = server_factory()
    proc, summary, _ = run_load(load_binary, echo_url(s), "--connections", 300, "--procs", 3,
                                "--source-ips", 3, "--mode", "closed", "--echo-connections", 60,
                                "--duration", 1, "--message-bytes", 200, "--verify-sample", 40)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    conns = summary["connections"]
    assert conns == {"requested": 300, "connected": 300, "failed": 0, "failed_by_reason": {},
                     "server_closed": 0, "open_at_end": 300}
    echo = summary["echo"]
    assert echo["mode"] == "closed" and echo["connections"] == 60
    assert echo["received"] > 100, echo
    assert echo["received"] <= echo["sent"] and echo["verify_errors"] == 0
    assert summary["verify_sample"] == {"requested": 40, "ok": 40, "failed": 0}
    lat = echo["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert summary["handshake_latency_ms"]["p50"] > 0
    assert summary["procs"] == 3
    assert "error" not in s.log_text().lower()


def test_open_loop_sends_at_the_asked_rate(server_factory, load_binary):
    s = server_factory()
    proc, summary, _ = run_load(load_binary, echo_url(s), "--connections", 100, "--procs", 2,
                                "--mode", "open", "--echo-connections", 50, "--echo-rate", 400,
                                "--duration", 2, "--message-type", "text", "--verify-sample", 10)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    echo = summary["echo"]
    # 400 msgs/s for 2 s, scheduled from the intended send times.
    assert 700 <= echo["sent"] <= 900, echo
    assert echo["received"] == echo["sent"] and echo["verify_errors"] == 0
    assert 300 <= echo["messages_per_second"] <= 500, echo


def test_server_counts_what_the_load_generator_reports(admin_server, load_binary):
    s = admin_server
    before = metric(s.admin_port, "millionws_connections_accepted_total")
    proc, summary, _ = run_load(load_binary, echo_url(s), "--connections", 250, "--procs", 2,
                                "--source-ips", 2, "--hold", 0.5, "--verify-sample", 0)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert summary["connections"]["connected"] == 250
    assert metric(s.admin_port, "millionws_connections_accepted_total") - before == 250


def test_barriers_release_promptly(server_factory, load_binary):
    # Workers that finish their ramp wait for the others on an eventfd; with a 1 s hold the
    # whole run (four workers, ramp, hold, verify, close) must not drag far past it.
    s = server_factory()
    proc, summary, elapsed = run_load(load_binary, echo_url(s), "--connections", 400,
                                      "--procs", 4, "--hold", 1, "--verify-sample", 20)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert summary["connections"]["connected"] == 400
    assert summary["verify_sample"]["ok"] == 20
    assert 1.0 <= elapsed < 8.0, elapsed


def test_refusals_are_counted_by_reason(server_factory, load_binary):
    # The server takes three WebSocket connections and answers the rest with 503.
    s = server_factory("--max-connections", "3")
    proc, summary, _ = run_load(load_binary, echo_url(s), "--connections", 10,
                                "--verify-sample", 0)
    assert proc.returncode == 1
    conns = summary["connections"]
    assert conns["connected"] == 3 and conns["failed"] == 7
    assert conns["failed_by_reason"] == {"bad_status": 7}


def test_nothing_listening_is_connect_refused(load_binary):
    port = free_port()
    proc, summary, _ = run_load(load_binary, "ws://127.0.0.1:%d/echo" % port,
                                "--connections", 5, "--verify-sample", 0)
    assert proc.returncode == 1
    assert summary["connections"]["failed_by_reason"] == {"connect_refused": 5}


def test_refuses_targets_outside_loopback(load_binary):
    # Nothing is sent: the refusal comes from argument checking.
    proc, summary, _ = run_load(load_binary, "ws://192.0.2.1:80/echo", "--connections", 1)
    assert proc.returncode == 2 and summary is None
    assert b"not a loopback address" in proc.stderr
