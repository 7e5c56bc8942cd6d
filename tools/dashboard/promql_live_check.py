#!/usr/bin/env python3
"""Evaluate every dashboard panel's PromQL and every recording rule against a real Prometheus
scraping a real MillionWS server under load. A query that returns no data (or only NaN) fails.

  promql_live_check.py --server BIN --load BIN [--prometheus-config FILE] DASHBOARD.json...

Starts, on 127.0.0.1 and free ports: the server (`--threads 2`), a Prometheus from the
stack's own prometheus.yml (scrape targets rewritten to the server's admin port, since the
compose DNS names do not resolve here; intervals cut to 1 s so rates exist within seconds;
the recording rules loaded as they are), and millionws-load holding connections and echoing
messages. Then every panel query (Grafana's $__rate_interval replaced by a fixed range, as
Grafana would substitute one) is evaluated until all return data or the time budget ends.
Also checks: the scrape target is up, every rule group evaluates without error, every metric
a query names is one the server exposes (or a recorded one), and each recorded series exists.
Everything it started is stopped by pid (process group for the load generator, which forks
workers) on every exit path.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Grafana's interval variables, replaced the way Grafana would for a 15-minute view with 1 s
# data. 1m keeps several samples under every rate() while staying short enough that the
# counters the load drives have moved within it.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "15m"}

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_for(what, url, deadline_s, proc):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"FAIL {what} exited with {proc.returncode} before answering {url}")
        try:
            if http_get(url, timeout=1)[0] == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"FAIL {what} did not answer {url} within {deadline_s} s")


def metric_names(expr):
    """Series names an expression selects: what is left after dropping strings, label
    matchers, ranges, grouping clauses, function calls, keywords and numbers."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        token = m.group(0)
        if token.lower() in PROMQL_WORDS or re.match(r"\s*\(", s[m.end():]):
            continue
        names.add(token)
    return names


def exposed_names(metrics_text):
    names = set()
    for line in metrics_text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def panel_queries(path):
    with open(path) as f:
        dashboard = json.load(f)
    for panel in dashboard.get("panels", []):
        for inner in [panel] + panel.get("panels", []):
            for target in inner.get("targets", []):
                # The panel id keeps two panels of the same title (a stat and a graph) apart.
                title = f"#{inner.get('id', '?')} {inner.get('title', '?')}"
                yield title, target.get("refId", "?"), target["expr"]


def substitute(expr):
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def query(prom, expr):
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        _, body = http_get(url)
    except urllib.error.HTTPError as e:
        return None, f"HTTP {e.code}: {e.read().decode()[:300]}"
    answer = json.loads(body)
    if answer.get("status") != "success":
        return None, answer.get("error", body[:300])
    return answer["data"]["result"], None


def describe(result):
    values = [float(r["value"][1]) for r in result]
    shown = ", ".join(f"{v:.4g}" for v in values[:4]) + (", ..." if len(values) > 4 else "")
    return f"{len(values)} series [{shown}]"


def stop(proc, name, sig=signal.SIGTERM, group=False):
    if proc is None or proc.poll() is not None:
        return
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        print(f"     {name} (pid {proc.pid}) ignored SIGTERM for 15 s, killing it", file=sys.stderr)
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


def provoke_rejections(port):
    """One 404 and one 426, so the rejection panel has moved, not only exists."""
    for path, version in (("/not-echo", "13"), ("/echo", "8")):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n").encode())
            s.recv(4096)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="millionws binary")
    parser.add_argument("--load", required=True, help="millionws-load binary")
    parser.add_argument("--prometheus-config", default=os.path.join(REPO, "deploy/local/prometheus.yml"))
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    parser.add_argument("--budget", type=float, default=90, help="seconds to wait for every query to return data")
    parser.add_argument("dashboards", nargs="+")
    args = parser.parse_args()

    queries = [(path, title, ref, expr) for path in args.dashboards for title, ref, expr in panel_queries(path)]
    if not queries:
        sys.exit("FAIL no panel queries found")
    with open(args.prometheus_config) as f:
        config = yaml.safe_load(f)
    config_dir = os.path.dirname(os.path.abspath(args.prometheus_config))
    rule_files = [os.path.join(config_dir, r) for r in config.get("rule_files") or []]
    recorded = []
    for path in rule_files:
        with open(path) as f:
            for group in (yaml.safe_load(f) or {}).get("groups", []):
                recorded += [r["record"] for r in group.get("rules", []) if "record" in r]

    work = tempfile.mkdtemp(prefix="promql-live-")
    server = prom = load = None
    failures = []
    try:
        port, admin, prom_port = free_port(), free_port(), free_port()
        server_log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen(
            [args.server, "--bind", "127.0.0.1", "--port", str(port), "--admin-bind", "127.0.0.1",
             "--admin-port", str(admin), "--threads", "2", "--drain-timeout", "2s"],
            stdout=server_log, stderr=subprocess.STDOUT)
        wait_for("millionws", f"http://127.0.0.1:{admin}/health", 15, server)

        config.setdefault("global", {}).update({"scrape_interval": "1s", "evaluation_interval": "1s"})
        config["rule_files"] = rule_files
        for job in config.get("scrape_configs", []):
            job.pop("scrape_interval", None)
            for static in job.get("static_configs", []):
                print(f"     scrape job {job['job_name']}: targets {static['targets']} -> 127.0.0.1:{admin}")
                static["targets"] = [f"127.0.0.1:{admin}"]
        live_config = os.path.join(work, "prometheus.yml")
        with open(live_config, "w") as f:
            yaml.safe_dump(config, f)
        prom_log = open(os.path.join(work, "prometheus.log"), "w")
        prom = subprocess.Popen(
            [args.prometheus, f"--config.file={live_config}", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=prom_log, stderr=subprocess.STDOUT)
        wait_for("prometheus", f"http://127.0.0.1:{prom_port}/-/ready", 30, prom)

        provoke_rejections(port)
        load_log = open(os.path.join(work, "load.log"), "w")
        # Own process group: millionws-load forks worker processes; they are stopped together.
        load = subprocess.Popen(
            [args.load, "--url", f"ws://127.0.0.1:{port}/echo", "--connections", "300", "--rate", "2000",
             "--hold", "1", "--mode", "open", "--echo-connections", "100", "--echo-rate", "500",
             "--message-bytes", "100", "--duration", str(int(args.budget) + 30),
             "--deadline", str(int(args.budget) + 60), "--quiet"],
            stdout=load_log, stderr=subprocess.STDOUT, start_new_session=True)

        _, metrics_text = http_get(f"http://127.0.0.1:{admin}/metrics")
        known = exposed_names(metrics_text)
        for path, title, ref, expr in queries:
            if "$" in substitute(expr):
                failures.append(f"{title} [{ref}]: unknown template variable in {expr}")
            for name in sorted(metric_names(substitute(expr)) - known - set(recorded)):
                failures.append(f"{title} [{ref}]: `{name}` is neither exposed by the server nor recorded by a rule")
        if failures:
            return failures

        checks = [("scrape target up", "target", f'up{{job="millionws", instance="127.0.0.1:{admin}"}} == 1')]
        checks += [(f"recording rule {r}", "rule", r) for r in recorded]
        checks += [(f"{title} [{ref}]", "panel", substitute(expr)) for _, title, ref, expr in queries]
        if len({c[0] for c in checks}) != len(checks):
            return [f"two checks share a name (duplicate panel id or refId): {sorted(c[0] for c in checks)}"]
        pending = {c[0]: c for c in checks}
        answers = {}
        started = time.monotonic()
        while pending and time.monotonic() - started < args.budget:
            if load.poll() is not None:
                failures.append(f"millionws-load exited early with {load.returncode}: {open(load_log.name).read()[-500:]}")
                return failures
            for name, (_, kind, expr) in list(pending.items()):
                result, error = query(prom_port, expr)
                if error:
                    failures.append(f"{name}: query error: {error}\n       {expr}")
                    del pending[name]
                elif result and not all(math.isnan(float(r["value"][1])) for r in result):
                    answers[name] = describe(result)
                    del pending[name]
            if pending:
                time.sleep(1)
        waited = time.monotonic() - started
        for name, (_, _, expr) in pending.items():
            failures.append(f"{name}: no data after {waited:.0f} s (empty or only NaN)\n       {expr}")

        status, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/rules")
        for group in json.loads(body)["data"]["groups"]:
            for rule in group["rules"]:
                if rule.get("health") != "ok":
                    failures.append(f"rule {rule['name']}: health {rule.get('health')}: {rule.get('lastError')}")

        for name, kind, expr in checks:
            if name in answers:
                print(f"ok   {name}: {answers[name]}" + (f"\n       {expr}" if kind == "panel" else ""))
        print(f"     {len(answers)} of {len(checks)} checks returned data within {waited:.0f} s "
              f"(server {args.server}, Prometheus {args.prometheus}, {len(queries)} panel queries, {len(recorded)} rules)")
        return failures
    finally:
        stop(load, "millionws-load", group=True)
        stop(prom, "prometheus")
        stop(server, "millionws")
        if failures:
            for name in ("server.log", "prometheus.log", "load.log"):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    tail = open(path).read()[-1500:]
                    print(f"--- {name} (last 1500 bytes)\n{tail}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    problems = main()
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if problems:
        sys.exit(f"FAIL live PromQL check: {len(problems)} problem(s)")
    print("ok   live PromQL check: every panel query and recording rule returned data")
