"""The locustfile against the real server, a broken stand-in and in distributed mode.

Each run is headless, short and bounded, with Locust's CSV results read back and compared with
what the server itself counted on /metrics: every handshake, echo and ping Locust reports must
be one the server saw, and none may be missing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.timeout(180)

# A few users of each kind, pinging and echoing often enough to count hundreds of events.
USERS = 20
KNOBS = {"MWS_PING_INTERVAL": 0.5, "MWS_ECHO_RATE": 20}


def server_counts(admin_port):
    m = harness.metrics(admin_port)
    return {
        "accepted": harness.metric(m, "millionws_connections_accepted_total"),
        "active": harness.metric(m, "millionws_connections_active"),
        "messages_in": harness.metric(m, "millionws_messages_received_total"),
        "messages_out": harness.metric(m, "millionws_messages_sent_total"),
        "pings_in": harness.metric(m, "millionws_control_frames_received_total", opcode="ping"),
        "client_closes": harness.metric(m, "millionws_disconnections_total",
                                        reason="client_close"),
    }


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


def run_headless(tmp_path, host, run_time=5, users=USERS, name="run", **knobs):
    """One local Locust run; returns (exit code, final stats, CSV stats by name, log)."""
    prefix = tmp_path / name
    final = tmp_path / (name + "_final.json")
    proc = harness.Proc(
        harness.locust_argv("--headless", "--only-summary", "-u", users, "-r", users,
                            "-t", "%ds" % run_time, "--stop-timeout", 10, "--host", host,
                            "--csv", prefix),
        tmp_path / (name + ".log"),
        harness.locust_env(**{**KNOBS, **knobs, "MWS_FINAL_STATS": final}))
    code = proc.wait(run_time + 60)
    if code is None:
        proc.stop()
        pytest.fail("locust overran its run time:\n" + proc.log()[-3000:])
    proc.stop()
    assert final.exists(), proc.log()[-3000:]
    stats = json.loads(final.read_text())
    assert_csv_agrees(stats, harness.read_stats(prefix))
    return code, stats, proc.log()


def requests(stats, name, what="requests"):
    entry = stats["total"] if name == "total" else stats["requests"].get(name)
    return entry[what] if entry else 0


def assert_csv_agrees(final, csv_stats):
    """Locust's own CSV has the same requests, short of at most the last second's (2.12 writes
    it once a second, not at exit)."""
    assert set(csv_stats) - {"Aggregated"} == set(final["requests"]), (csv_stats, final)
    for name, entry in final["requests"].items():
        in_csv = harness.count(csv_stats, name)
        assert 0 < in_csv <= entry["requests"], (name, in_csv, entry)


def assert_server_saw_everything(stats, seen, users):
    """Locust's counts against the server's: every connect, echo and ping, no more, no less."""
    connects, echoes, pings = (requests(stats, n) for n in ("connect", "echo", "ping"))
    assert connects == users, stats
    assert echoes > 100 and pings > 20, (echoes, pings)
    assert seen["accepted"] == connects, seen
    assert seen["messages_in"] == echoes and seen["messages_out"] == echoes, (seen, echoes)
    assert seen["pings_in"] == pings, (seen, pings)
    # on_stop closes every connection with a Close frame, and nothing stays open.
    assert seen["client_closes"] == users, seen
    assert seen["active"] == 0, seen


@pytest.mark.parametrize("message_type,message_bytes", [("binary", 200), ("text", 70000)])
def test_headless_against_millionws(admin_server, tmp_path, message_type, message_bytes):
    # 70000 bytes: past 65535, so the 64-bit length form is used both ways.
    before = server_counts(admin_server.admin_port)
    code, stats, log = run_headless(
        tmp_path, "http://127.0.0.1:%d" % admin_server.port, MWS_MESSAGE_TYPE=message_type,
        MWS_MESSAGE_BYTES=message_bytes)
    assert code == 0, log[-3000:]
    assert stats["errors"] == [] and requests(stats, "total", "failures") == 0, stats
    assert stats["requests"]["echo"]["type"] == "WS"
    assert_server_saw_everything(stats, delta(server_counts(admin_server.admin_port), before),
                                 USERS)


def start_broken_echo(tmp_path, mode):
    proc = harness.Proc([harness.PYTHON, harness.HERE / "broken_echo.py", "--mode", mode],
                        tmp_path / ("broken-%s.log" % mode), harness.locust_env())
    assert harness.wait_for(lambda: "listening on" in proc.log(), 10), proc.log()
    return proc, int(proc.log().split("listening on 127.0.0.1:")[1].split()[0])


def test_a_corrupted_echo_is_a_failure(tmp_path):
    proc, port = start_broken_echo(tmp_path, "corrupt")
    try:
        code, stats, log = run_headless(tmp_path, "http://127.0.0.1:%d" % port, run_time=3,
                                        users=6)
    finally:
        proc.stop()
    assert code == 1, log[-3000:]  # Locust's exit code on failed requests
    echoes = requests(stats, "echo")
    assert echoes > 20
    # Every echo failed, for the one byte the stand-in flipped (the middle of 32), and nothing
    # else did: the handshake and pings are answered correctly.
    assert requests(stats, "echo", "failures") == echoes, stats
    assert stats["errors"] == [{"name": "echo", "occurrences": echoes,
                                "error": "EchoMismatch('byte 16 differs')"}], stats["errors"]
    assert requests(stats, "connect", "failures") == 0
    assert requests(stats, "ping") > 0 and requests(stats, "ping", "failures") == 0


def test_the_stand_in_echoing_faithfully_passes(tmp_path):
    # The control for the test above: the failures come from the flipped byte alone.
    proc, port = start_broken_echo(tmp_path, "echo")
    try:
        code, stats, log = run_headless(tmp_path, "http://127.0.0.1:%d" % port, run_time=3,
                                        users=6)
    finally:
        proc.stop()
    assert code == 0 and stats["errors"] == [], log[-3000:]
    assert requests(stats, "echo") > 20


def test_nothing_listening_fails_every_connect(tmp_path):
    port = harness.e2e.free_port()
    code, stats, log = run_headless(tmp_path, "http://127.0.0.1:%d" % port, run_time=2, users=4)
    assert code == 1, log[-3000:]
    assert requests(stats, "connect") > 0
    assert requests(stats, "connect", "failures") == requests(stats, "connect")
    assert requests(stats, "ping") == 0  # a hold user with no connection has nothing to ping
    assert any("ConnectionRefusedError" in e["error"] for e in stats["errors"]), stats["errors"]


def test_distributed_master_and_two_workers(admin_server, tmp_path):
    """Master (locust/master.sh, as the master Job runs it) and two workers on loopback; the
    CSVs are taken out of the master's log by run.sh --extract, as on a cluster."""
    port = harness.e2e.free_port()
    users, run_time = USERS, 8
    env = harness.locust_env(
        **KNOBS, PATH="/usr/bin:/bin", LOCUSTFILE=harness.LOCUSTFILE,
        LOCUST_HOST="http://127.0.0.1:%d" % admin_server.port, LOCUST_USERS=users,
        LOCUST_SPAWN_RATE=users, LOCUST_RUN_TIME="%ds" % run_time, LOCUST_EXPECT_WORKERS=2,
        LOCUST_EXPECT_WORKERS_MAX_WAIT=30,  # a worker turned away fails the run, not hangs it
        LOCUST_MASTER_BIND_HOST="127.0.0.1", LOCUST_MASTER_BIND_PORT=port,
        LOCUST_STOP_TIMEOUT=10)
    worker_env = harness.locust_env(**KNOBS, LOCUST_MASTER_NODE_HOST="127.0.0.1",
                                    LOCUST_MASTER_NODE_PORT=port, LOCUST_STOP_TIMEOUT=10)
    before = server_counts(admin_server.admin_port)
    master = harness.Proc(["/bin/sh", harness.LOCUST_DIR / "master.sh"], tmp_path / "master.log",
                          env)
    workers = [harness.Proc(harness.locust_argv("--worker"), tmp_path / ("worker%d.log" % i),
                            worker_env) for i in range(2)]
    try:
        # Each worker comes to hold its share of the users' connections.
        shares = harness.wait_for(
            lambda: all(count_sockets(w.pid) >= users // 2 for w in workers), 30)
        sockets = [count_sockets(w.pid) for w in workers]
        code = master.wait(run_time + 90)
        assert code is not None, "master overran:\n" + master.log()[-3000:]
        log = master.log()
        # The version shim let both workers in.
        assert "pre 2.0" not in log, [line for line in log.splitlines() if "ERROR" in line][:4]
        assert code == 0, log[-4000:]
        assert "2 workers connected" in log and "to 2 ready workers" in log, log[-3000:]
        for w in workers:
            assert w.wait(30) is not None, "worker did not quit with the master"
    finally:
        for p in (master, *workers):
            p.stop()
    # users / 2 WebSocket connections each, plus Locust's own sockets to the master.
    assert shares, sockets

    out = tmp_path / "extracted"
    extract = subprocess.run(["bash", harness.LOCUST_DIR / "run.sh", "--extract",
                              tmp_path / "master.log", out], capture_output=True, text=True)
    assert extract.returncode == 0, extract.stderr
    assert {p.name for p in out.iterdir()} >= {"locust_stats.csv", "locust_failures.csv",
                                                "locust_stats_history.csv", "locust_final.json"}
    stats = json.loads((out / "locust_final.json").read_text())
    assert_csv_agrees(stats, harness.read_stats(out / "locust"))
    assert harness.read_failures(out / "locust") == []
    assert stats["errors"] == [] and requests(stats, "total", "failures") == 0, stats
    assert_server_saw_everything(stats, delta(server_counts(admin_server.admin_port), before),
                                 users)


def count_sockets(pid):
    # Locust opens and closes descriptors while we look: one listed here may be gone by the
    # time it is read (a FileNotFoundError that failed a CI run on 2026-12-01).
    count = 0
    for fd in Path("/proc/%d/fd" % pid).iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except FileNotFoundError:
            pass
    return count


def test_extract_fails_without_an_end_marker(tmp_path):
    # A master that died (OOM-killed, evicted) leaves no end marker: run.sh must not pass.
    log = tmp_path / "master.log"
    log.write_text("=== millionws-locust file locust_stats.csv\nType,Name\n")
    r = subprocess.run(["bash", harness.LOCUST_DIR / "run.sh", "--extract", log, tmp_path / "o"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "did not finish" in r.stderr, r.stderr
    log.write_text("=== millionws-locust file ../../etc/passwd\nx\n=== millionws-locust end "
                   "status=0\n")
    r = subprocess.run(["bash", harness.LOCUST_DIR / "run.sh", "--extract", log, tmp_path / "o"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "bad section name" in r.stderr, r.stderr


PROBE = r"""
import json, sys
import locust, locust.runners
before = locust.__version__
if sys.argv[1] == "upstream":  # a package that carries its version
    locust.__version__ = locust.runners.__version__ = "9.9.9"
sys.path.insert(0, sys.argv[2])
import locustfile
print(json.dumps({
    "before": before, "after": locust.__version__, "runners": locust.runners.__version__,
    "urls": [locustfile.websocket_url(h) for h in (
        "http://10.0.0.1:8080", "https://ws.example.com", "ws://h:1/other", "h:80",
        "http://svc.ns.svc.cluster.local:80/")],
}))
"""


@pytest.mark.parametrize("package", ["debian", "upstream"])
def test_version_shim_only_where_needed(package):
    # In a child: importing Locust monkey-patches the interpreter with gevent.
    r = subprocess.run([harness.PYTHON, "-c", PROBE, package, str(harness.LOCUST_DIR)],
                       capture_output=True, text=True, timeout=60, env=harness.locust_env())
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    if package == "debian":
        assert got["before"] == ""  # the defect the shim is for (Debian's 2.12.1)
        assert got["after"] == got["runners"] == "2.12.1"
    else:
        assert got["after"] == got["runners"] == "9.9.9"
    assert got["urls"] == ["ws://10.0.0.1:8080/echo", "wss://ws.example.com/echo",
                           "ws://h:1/other", "ws://h:80/echo",
                           "ws://svc.ns.svc.cluster.local:80/echo"]


def test_requirements_are_pinned():
    lines = [line.split("#")[0].strip() for line in
             (harness.LOCUST_DIR / "requirements.txt").read_text().splitlines()]
    reqs = [line for line in lines if line]
    assert reqs and all("==" in r for r in reqs), reqs
    assert {r.split("==")[0] for r in reqs} >= {"locust", "websocket-client"}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
