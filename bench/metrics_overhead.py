#!/usr/bin/env python3
"""What counting for /metrics costs on the echo path.

Runs the same closed-loop echo load against two builds of the server, one with counters
(the release build) and one with every counter compiled out (-DMWS_COUNTERS=OFF), in
alternating rounds, and compares echoes per server CPU-second: messages echoed divided by
the server's utime+stime over the run, read from /proc/PID/stat.

  /usr/bin/python3 bench/metrics_overhead.py [--rounds 5] [--connections 100] [--duration 8]
"""

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LISTEN_RE = re.compile(r"listening on \S+:(\d+)")
# The server and the load generator each get a core of their own: left to the scheduler,
# whether they share one swings throughput by +-15% from run to run, which would drown the
# difference being measured.
SERVER_CPU, LOAD_CPU = 0, 1


def cpu_times(pid):
    """(user, system) CPU seconds of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def start_server(binary, log):
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", "0", "--admin-port", "0",
                             "--threads", "1", "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}))
    # The listening line is logged at info: read the port from the socket table instead.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        port = listening_port(proc.pid)
        if port:
            return proc, port
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server %s did not start listening" % binary)


def listening_port(pid):
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                return int(parts[1].split(":")[1], 16)
    return None


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_once(server, load, args):
    proc, port = start_server(server, None)
    try:
        user0, sys0 = cpu_times(proc.pid)
        out = subprocess.run([load, "--url", "ws://127.0.0.1:%d/echo" % port,
                              "--connections", str(args.connections), "--mode", "closed",
                              "--echo-connections", str(args.connections),
                              "--duration", str(args.duration),
                              "--message-bytes", str(args.message_bytes),
                              "--verify-sample", "10", "--quiet"],
                             capture_output=True, text=True, timeout=args.duration + 120,
                             preexec_fn=lambda: os.sched_setaffinity(0, {LOAD_CPU}))
        user1, sys1 = cpu_times(proc.pid)
        user, system = user1 - user0, sys1 - sys0
        cpu = user + system
    finally:
        stop(proc)
    if out.returncode != 0:
        raise SystemExit("load failed (%d): %s" % (out.returncode, out.stderr[-2000:]))
    summary = json.loads(out.stdout)
    echoed = summary["echo"]["received"]
    return {"echoes": echoed, "server_cpu_seconds": cpu, "server_user_seconds": user,
            "server_system_seconds": system,
            "echoes_per_cpu_second": echoed / cpu if cpu else 0.0,
            "user_ns_per_echo": user / echoed * 1e9 if echoed else 0.0,
            "messages_per_second": summary["echo"]["messages_per_second"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--counted", default=str(REPO / "build/release/millionws"))
    p.add_argument("--uncounted", default=str(REPO / "build/nocounters/millionws"))
    p.add_argument("--load", default=str(REPO / "build/release/millionws-load"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--message-bytes", type=int, default=32)
    p.add_argument("--out", default=str(REPO / "bench/results/metrics-overhead.json"))
    args = p.parse_args()

    runs = {"counted": [], "uncounted": []}
    for r in range(args.rounds):
        order = ["counted", "uncounted"] if r % 2 == 0 else ["uncounted", "counted"]
        for variant in order:
            binary = args.counted if variant == "counted" else args.uncounted
            res = run_once(binary, args.load, args)
            runs[variant].append(res)
            print("round %d %-9s %9.0f echoes/CPU-s  %6.0f user ns/echo  %8.0f msgs/s  "
                  "(%d echoes, %.2f user + %.2f system CPU-s)"
                  % (r + 1, variant, res["echoes_per_cpu_second"], res["user_ns_per_echo"],
                     res["messages_per_second"], res["echoes"], res["server_user_seconds"],
                     res["server_system_seconds"]), file=sys.stderr)

    med = {v: statistics.median(x["echoes_per_cpu_second"] for x in runs[v]) for v in runs}
    user = {v: statistics.median(x["user_ns_per_echo"] for x in runs[v]) for v in runs}
    cpu_ns = {v: 1e9 / med[v] for v in runs}
    ratio = med["counted"] / med["uncounted"]
    # Counting is user-space work: its cost is the user time it adds per echo, as a share of
    # all the server CPU an echo takes (most of which is the kernel's TCP work).
    user_share = (user["counted"] - user["uncounted"]) / cpu_ns["uncounted"]
    result = {
        "command": " ".join([sys.executable] + sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"nproc": os.cpu_count(), "kernel": platform.release()},
        "params": vars(args),
        "runs": runs,
        "median_echoes_per_cpu_second": med,
        "median_user_ns_per_echo": user,
        "counted_over_uncounted": ratio,
        "counting_user_time_share_of_echo_cpu": user_share,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("median echoes per server CPU-second: counted %.0f, uncounted %.0f (ratio %.3f)"
          % (med["counted"], med["uncounted"], ratio))
    print("median user time per echo: counted %.0f ns, uncounted %.0f ns; counting adds %.2f%% "
          "of the %.0f ns of server CPU an echo costs"
          % (user["counted"], user["uncounted"], user_share * 100, cpu_ns["uncounted"]))


if __name__ == "__main__":
    main()
