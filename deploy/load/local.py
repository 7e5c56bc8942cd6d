#!/usr/bin/python3
"""Runs deploy/load's Job locally: its pod command, as rendered by `kubectl kustomize
deploy/load`, in N processes standing in for N pods, then merges their summaries with
gather.py. For the checks (tests/e2e/test_load_generator.py) and for measuring what a pod costs.

    deploy/load/local.py --url ws://127.0.0.1:PORT/echo --pods 2 \\
        --set CONNECTIONS=4000 --set HOLD_SECONDS=2 --out DIR

What a pod gets, the kubelet's way: the ConfigMap's keys (envFrom), then the container's env
(SHARD_INDEX, from the completion-index annotation, is the process's index), then $(VAR) in
command and args expanded from that environment. --set KEY=VALUE changes a ConfigMap key as an
overlay would; --url sets TARGET_URL, --pods sets SHARDS; START_AT becomes now + --lead seconds,
as run.sh sets it. The binary is MILLIONWS_LOAD_BIN (or build/release/millionws-load) in place
of the image's /usr/local/bin/millionws-load.

Writes DIR/pod-I.log (stdout and stderr, as `kubectl logs` shows them), DIR/merged.json (gather.py's
output) and DIR/local.json: each pod's exit code, peak resident memory (the process and its
forked workers) and the connections it held, and gather.py's exit code. Exits with gather.py's.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGE_BINARY = "/usr/local/bin/millionws-load"
VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def render(directory):
    r = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True,
                       env={**os.environ, "KUBECONFIG": "/dev/null"}, timeout=60, check=False)
    if r.returncode != 0:
        raise SystemExit("kubectl kustomize %s failed:\n%s" % (directory, r.stderr))
    return [o for o in yaml.safe_load_all(r.stdout) if o]


def expand(text, env):
    """The kubelet's $(VAR) expansion: defined variables are replaced, $$ is a literal $, an
    undefined reference stays as written."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return VAR.sub(repl, text)


def pod_plan(objects):
    """(job, container, ConfigMap data) of the rendered Job."""
    jobs = [o for o in objects if o["kind"] == "Job"]
    if len(jobs) != 1:
        raise SystemExit("expected one Job, found %d" % len(jobs))
    job = jobs[0]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    data = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        maps = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name]
        if len(maps) != 1:
            raise SystemExit("envFrom %s: no such rendered ConfigMap" % name)
        data.update(maps[0]["data"])
    return job, container, data


def pod_argv(container, data, index, binary):
    env = dict(data)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
        elif "job-completion-index" in item.get("valueFrom", {}).get("fieldRef", {}).get(
                "fieldPath", ""):
            env[item["name"]] = str(index)
        else:
            raise SystemExit("env %s: a source this runner cannot stand in for" % item["name"])
    argv = [expand(a, env) for a in container.get("command", []) + container.get("args", [])]
    if argv[0] != IMAGE_BINARY:
        raise SystemExit("the pod runs %s, not %s" % (argv[0], IMAGE_BINARY))
    unexpanded = [a for a in argv if VAR.search(a)]
    if unexpanded:
        raise SystemExit("undefined variables in the pod command: %s" % unexpanded)
    return [binary] + argv[1:]


def tree_rss(pid):
    """Resident bytes of a process and its children (millionws-load forks its workers)."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="TARGET_URL for the pods (a local server)")
    p.add_argument("--pods", type=int, default=2, help="processes standing in for pods (SHARDS)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a ConfigMap key, as an overlay would")
    p.add_argument("--lead", type=float, default=2.0, help="START_AT = now + LEAD seconds")
    p.add_argument("--out", required=True, help="directory for the pods' logs and results")
    p.add_argument("--dir", default=str(HERE), help="the kustomization to render")
    p.add_argument("--binary", default=os.environ.get("MILLIONWS_LOAD_BIN")
                   or str(REPO / "build" / "release" / "millionws-load"))
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args(argv)

    job, container, data = pod_plan(render(args.dir))
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in data:
            raise SystemExit("--set %s: not a key of the ConfigMap (%s)" % (item, sorted(data)))
        data[key] = value
    data["TARGET_URL"] = args.url
    data["SHARDS"] = str(args.pods)
    data["START_AT"] = "%.3f" % (time.time() + args.lead)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    procs, peaks = [], [0] * args.pods
    for i in range(args.pods):
        log = open(out / ("pod-%d.log" % i), "wb")
        argv_i = pod_argv(container, data, i, args.binary)
        (out / ("pod-%d.argv" % i)).write_text("\n".join(argv_i) + "\n")
        procs.append((subprocess.Popen(argv_i, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT), log))
    deadline = time.monotonic() + args.timeout
    try:
        while any(proc.poll() is None for proc, _ in procs):
            if time.monotonic() > deadline:
                raise SystemExit("the pods overran --timeout %s s" % args.timeout)
            for i, (proc, _) in enumerate(procs):
                if proc.poll() is None:
                    peaks[i] = max(peaks[i], tree_rss(proc.pid))
            time.sleep(0.2)
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.terminate()  # millionws-load stops its workers and still reports
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()

    logs = [str(out / ("pod-%d.log" % i)) for i in range(args.pods)]
    gather = subprocess.run([sys.executable, str(HERE / "gather.py"), *logs],
                            capture_output=True, text=True, check=False)
    (out / "merged.json").write_text(gather.stdout)
    report = {"job_completions": job["spec"]["completions"], "pods": [], "gather_exit":
              gather.returncode, "gather_stderr": gather.stderr}
    for i, (proc, _) in enumerate(procs):
        report["pods"].append({"index": i, "exit": proc.returncode, "peak_rss_bytes": peaks[i]})
    (out / "local.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    if gather.returncode == 2:
        print(gather.stderr, file=sys.stderr)
    return gather.returncode


if __name__ == "__main__":
    sys.exit(main())
