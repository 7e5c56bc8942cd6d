"""Observability end to end: the admin listener's /health and /metrics, scraped by a real
Prometheus (Debian's `prometheus`) and asserted through PromQL with `promtool query instant`."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

import wsraw
from conftest import free_port, http_get, wait_http_ok

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture
def prometheus(admin_server, tmp_path):
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: millionws\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % admin_server.admin_port)
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, "--config.file=%s" % config,
                             "--storage.tsdb.path=%s" % (tmp_path / "data"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port

    def still_running():
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
    wait_http_ok(port, "/-/ready", timeout=30, still_alive=still_running, interval=0.2)
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def promql(url, query):
    """The value of a single-sample instant query, or None while there is none."""
    out = subprocess.run([PROMTOOL, "query", "instant", "-o", "json", url, query],
                         capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        return None
    result = json.loads(out.stdout)
    if not result:
        return None
    return float(result[0]["value"][1])


def wait_for(url, query, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = promql(url, query)
        if last is not None and predicate(last):
            return last
        time.sleep(0.5)
    raise AssertionError("PromQL %r never satisfied the condition; last value %r" % (query, last))


def test_health_reports_serving(admin_server):
    status, body = http_get(admin_server.admin_port, "/health")
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "serving"
    assert doc["connections"] == 0
    assert doc["reactors"] == 2
    assert doc["uptime_seconds"] >= 0
    assert doc["version"]


def test_metrics_pass_promtool_check(admin_server):
    with wsraw.open_ws(admin_server.host, admin_server.port) as ws:
        ws.echo(0x1, b"hello")
        status, body = http_get(admin_server.admin_port, "/metrics")
    assert status == 200
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           timeout=20)
    assert check.returncode == 0, check.stdout + check.stderr
    text = body.decode()
    for name in ("millionws_connections_accepted_total", "millionws_connections_active",
                 "millionws_disconnections_total", "process_resident_memory_bytes",
                 "process_virtual_memory_bytes", "process_threads", "process_open_fds",
                 "process_max_fds", "process_cpu_seconds_total", "process_start_time_seconds",
                 "millionws_kernel_tcp_memory_bytes", "millionws_message_size_bytes_bucket",
                 "millionws_reactor_loop_duration_seconds_bucket"):
        assert "\n" + name in text, name
    # Threads: reactors + main + the admin thread; not per connection.
    threads = [l for l in text.splitlines() if l.startswith("process_threads ")]
    assert threads and float(threads[0].split()[1]) == 2 + 1 + 1


def test_process_open_fds_reads_what_proc_shows_between_scrapes(admin_server):
    fd_dir = "/proc/%d/fd" % admin_server.pid
    # Settled: the fixture's readiness probe may take a moment to be closed.
    held, deadline = None, time.monotonic() + 5
    while time.monotonic() < deadline:
        now = len(os.listdir(fd_dir))
        if now == held:
            break
        held = now
        time.sleep(0.2)
    _, body = http_get(admin_server.admin_port, "/metrics")
    value = [float(l.split()[1]) for l in body.decode().splitlines()
             if l.startswith("process_open_fds ")]
    # The scrape's connection is closed a moment after its answer: the count settles back.
    deadline = time.monotonic() + 5
    while len(os.listdir(fd_dir)) != held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(os.listdir(fd_dir)) == held
    assert value == [held], "process_open_fds %r, /proc/PID/fd lists %d" % (value, held)


@pytest.mark.timeout(180)
def test_prometheus_sees_connections_come_and_go(admin_server, prometheus):
    n = 40
    clients = [wsraw.open_ws(admin_server.host, admin_server.port) for _ in range(n)]
    try:
        for i, c in enumerate(clients):
            c.echo(0x2, b"x" * i)
        wait_for(prometheus, "millionws_connections_active", lambda v: v == n)
        assert promql(prometheus, "millionws_connections_accepted_total") == n
        fds_with_clients = wait_for(prometheus, "process_open_fds", lambda v: v >= n)
        per_reactor = promql(prometheus, "sum(millionws_reactor_connections_active)")
        assert per_reactor == n
        assert promql(prometheus, 'millionws_messages_received_total{opcode="binary"}') == n

        closing, clients = clients[:15], clients[15:]
        for c in closing:
            c.close_handshake(1000)
            c.close_socket()
        wait_for(prometheus, "millionws_connections_active", lambda v: v == n - 15)
        wait_for(prometheus, 'millionws_disconnections_total{reason="client_close"}',
                 lambda v: v == 15)
        fds_after = wait_for(prometheus, "process_open_fds", lambda v: v <= fds_with_clients - 15)
        assert fds_after >= n - 15

        # A protocol error is labelled as such, and its close code counted.
        bad = clients.pop()
        bad.send_frame(0x1, b"x", mask=False)
        bad.expect_fail(1002)
        bad.close_socket()
        wait_for(prometheus, 'millionws_disconnections_total{reason="protocol_error"}',
                 lambda v: v == 1)
        wait_for(prometheus, 'millionws_close_frames_total{code="1002",direction="sent"}',
                 lambda v: v == 1)
        assert promql(prometheus, "millionws_connections_active") == n - 16 or wait_for(
            prometheus, "millionws_connections_active", lambda v: v == n - 16)
    finally:
        for c in clients:
            c.close_socket()


def test_handshake_rejections_are_counted(admin_server):
    resp, conn = wsraw.get(admin_server.host, admin_server.port, "/nope")
    conn.close_socket()
    assert resp.status == 404
    _, body = http_get(admin_server.admin_port, "/metrics")
    assert 'millionws_handshakes_rejected_total{status="404"} 1' in body.decode()


def test_health_turns_503_while_draining(admin_server):
    ws = wsraw.open_ws(admin_server.host, admin_server.port)  # will not answer the 1001 close
    try:
        assert http_get(admin_server.admin_port, "/health")[0] == 200
        admin_server.signal(signal.SIGTERM)
        f = ws.recv_frame(timeout=5)
        assert f.opcode == 0x8 and f.close_code == 1001
        status, body = http_get(admin_server.admin_port, "/health")
        assert status == 503
        assert json.loads(body)["status"] == "draining"
    finally:
        ws.close_socket()
    assert admin_server.wait(timeout=20) == 0
