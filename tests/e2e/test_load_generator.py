"""millionws-load against the real server: the instrument behind every benchmark figure.

Each test runs the load generator binary as a user would and checks its JSON summary, against
what the server itself saw (its log, its /metrics) where the server can tell.
"""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

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


# --- Cluster runs: shards, a common start, deploy/load's Job and its gatherer -------------------

DEPLOY_LOAD = Path(__file__).resolve().parents[2] / "deploy" / "load"


def load_gather():
    spec = importlib.util.spec_from_file_location("mws_gather", DEPLOY_LOAD / "gather.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shards_start_together_and_split_the_run(server_factory, load_binary):
    # Two processes, one run of 301 connections: each takes its share, waits for the same
    # wall-clock start and says which shard it was.
    s = server_factory()
    start_at = time.time() + 1.5
    argv = [load_binary, "--url", echo_url(s), "--quiet", "--connections", "301",
            "--verify-sample", "11", "--shard-count", "2", "--start-at", "%.3f" % start_at,
            "--histograms"]
    procs = [subprocess.Popen(argv + ["--shard-index", str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for i in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    summaries = [json.loads(o[0]) for o in outs]
    assert [x["shard"] for x in summaries] == [
        {"index": 0, "count": 2, "connections_total": 301},
        {"index": 1, "count": 2, "connections_total": 301}]
    assert [x["connections"]["connected"] for x in summaries] == [151, 150]
    assert [x["verify_sample"]["ok"] for x in summaries] == [6, 5]
    starts = [x["start"]["actual_unix"] for x in summaries]
    assert all(t >= round(start_at, 3) for t in starts), (starts, start_at)
    assert max(starts) - min(starts) < 0.25, starts
    assert all(x["start"]["late_seconds"] < 0.25 for x in summaries)
    assert summaries[0]["host"] == socket.gethostname()
    hist = summaries[0]["histograms"]
    assert sum(n for _, n in hist["handshake"]["buckets"]) == 151


def test_a_stop_while_waiting_for_the_start_aborts_every_connection(server_factory, load_binary):
    s = server_factory()
    proc = subprocess.Popen([load_binary, "--url", echo_url(s), "--connections", "50",
                             "--start-at", "%.3f" % (time.time() + 60)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert b"waiting" in err
    summary = json.loads(out)
    assert summary["connections"]["failed_by_reason"] == {"aborted": 50}, summary


def test_shard_flags_are_checked(load_binary):
    proc, summary, _ = run_load(load_binary, "ws://127.0.0.1:9/echo", "--shard-count", 2,
                                "--shard-index", 2)
    assert proc.returncode == 2 and summary is None
    assert b"--shard-index 2 is not below --shard-count 2" in proc.stderr


def rendered_job():
    import yaml
    r = subprocess.run(["kubectl", "kustomize", str(DEPLOY_LOAD)], capture_output=True, text=True,
                       env={**os.environ, "KUBECONFIG": "/dev/null"}, timeout=60)
    assert r.returncode == 0, r.stderr
    objects = [o for o in yaml.safe_load_all(r.stdout) if o]
    (job,) = [o for o in objects if o["kind"] == "Job"]
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap"]
    return job, cm["data"]


def test_the_job_agrees_with_its_settings():
    job, data = rendered_job()
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(data["SHARDS"])
    assert spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    assert c["command"] == ["/usr/local/bin/millionws-load"]
    for flag in ("--allow-remote", "--histograms", "--shard-index=$(SHARD_INDEX)",
                 "--shard-count=$(SHARDS)", "--start-at=$(START_AT)", "--url=$(TARGET_URL)"):
        assert flag in c["args"], flag
    (index,) = [e for e in c["env"] if e["name"] == "SHARD_INDEX"]
    assert index["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # Each pod within half of its local ports towards the one Service address, and within its
    # memory at the measured cost (deploy/load/README.md: 186 B user space + 4,183 B kernel).
    per_pod = -(-int(data["CONNECTIONS"]) // int(data["SHARDS"]))
    sysctls = {x["name"]: x["value"] for x in pod["securityContext"]["sysctls"]}
    low, high = map(int, sysctls["net.ipv4.ip_local_port_range"].split())
    assert per_pod * 2 <= high - low + 1, per_pod
    limit = c["resources"]["limits"]["memory"]
    assert limit.endswith("Mi") and int(limit[:-2]) * 2**20 >= 16 * 2**20 + per_pod * 4_369
    assert data["TARGET_URL"].startswith("ws://")


def test_the_jobs_pod_command_as_two_pods_adds_up(admin_server, load_binary, tmp_path):
    """deploy/load/local.py runs the rendered Job's own command in two processes against the
    server; gather.py's merged summary must be the sum of the two, with percentiles from the
    summed histograms, and the server must have seen every connection and message."""
    s = admin_server
    before_conns = metric(s.admin_port, "millionws_connections_accepted_total")
    before_msgs = metric(s.admin_port, "millionws_messages_received_total")
    out = tmp_path / "run"
    r = subprocess.run(
        ["/usr/bin/python3", str(DEPLOY_LOAD / "local.py"), "--url", echo_url(s), "--pods", "2",
         "--out", str(out), "--binary", load_binary,
         "--set", "CONNECTIONS=1001", "--set", "RATE=0", "--set", "HOLD_SECONDS=0.5",
         "--set", "ECHO_CONNECTIONS=101", "--set", "ECHO_RATE=1000", "--set", "ECHO_SECONDS=1.5",
         "--set", "VERIFY_SAMPLE=21", "--set", "MESSAGE_BYTES=100"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    parts = []
    for i in range(2):
        argv = (out / ("pod-%d.argv" % i)).read_text().split("\n")
        assert "--shard-index=%d" % i in argv and "--allow-remote" in argv
        parts.append(json.loads((out / ("pod-%d.log" % i)).read_text().strip().splitlines()[-1]))
    merged = json.loads((out / "merged.json").read_text())

    for key in ("requested", "connected", "failed", "server_closed", "open_at_end"):
        assert merged["connections"][key] == sum(p["connections"][key] for p in parts), key
    assert merged["connections"]["connected"] == 1001
    for key in ("connections", "sent", "received", "verify_errors"):
        assert merged["echo"][key] == sum(p["echo"][key] for p in parts), key
    for key in ("requested", "ok", "failed"):
        assert merged["verify_sample"][key] == sum(p["verify_sample"][key] for p in parts), key
    assert merged["echo"]["connections"] == 101 and merged["verify_sample"]["ok"] == 21

    gather = load_gather()
    for name, key in (("handshake", "handshake_latency_ms"), ("echo_latency", "echo")):
        summed = gather.Histogram(parts[0]["histograms"]["sub_bits"])
        for p in parts:
            # Each pod's own percentiles, recomputed from its histogram by gather.py, are the
            # ones millionws-load printed: the two implementations agree.
            alone = gather.Histogram(p["histograms"]["sub_bits"])
            alone.add(p["histograms"][name])
            own = p[key]["latency_ms"] if key == "echo" else p[key]
            assert alone.summary_ms() == own, (name, alone.summary_ms(), own)
            summed.add(p["histograms"][name])
        got = merged[key]["latency_ms"] if key == "echo" else merged[key]
        assert got == summed.summary_ms(), (name, got)
        assert got["max"] == max((p[key]["latency_ms"] if key == "echo" else p[key])["max"]
                                 for p in parts)
    assert merged["histograms"]["echo_latency_count"] == merged["echo"]["received"]

    # The server's own counts: every connection, every echo and verify message.
    assert metric(s.admin_port, "millionws_connections_accepted_total") - before_conns == 1001
    assert metric(s.admin_port, "millionws_messages_received_total") - before_msgs == \
        merged["echo"]["sent"] + merged["verify_sample"]["ok"]

    # The gatherer refuses an incomplete or doubled set of pods, and flags a failed run.
    logs = [str(out / "pod-0.log"), str(out / "pod-1.log")]
    for args, code, text in (([logs[0]], 2, "missing [1]"), ([logs[0], logs[0], logs[1]], 2,
                                                             "repeated [0]")):
        g = subprocess.run(["/usr/bin/python3", str(DEPLOY_LOAD / "gather.py"), *args],
                           capture_output=True, text=True)
        assert g.returncode == code and text in g.stderr, (g.returncode, g.stderr)
    broken = parts[1]
    broken["connections"]["failed"] = 3
    broken["connections"]["failed_by_reason"] = {"timeout": 3}
    (tmp_path / "failed.log").write_text("noise on stderr\n" + json.dumps(broken) + "\n")
    g = subprocess.run(["/usr/bin/python3", str(DEPLOY_LOAD / "gather.py"), logs[0],
                        str(tmp_path / "failed.log")], capture_output=True, text=True)
    assert g.returncode == 1, g.stderr
    assert json.loads(g.stdout)["connections"]["failed_by_reason"] == {"timeout": 3}
