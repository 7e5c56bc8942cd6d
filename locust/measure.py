#!/usr/bin/python3
"""What a held Locust user costs: memory and CPU of one Locust process (a worker's worth)
holding N HoldUser connections to a local MillionWS server (or N EchoUsers, --user-class).

    /usr/bin/python3 locust/measure.py --users 18000 --spawn-rate 500 --hold 60
    /usr/bin/python3 locust/measure.py --users 2000 --user-class EchoUser --echo-rate 1

Starts the server (MILLIONWS_BIN or build/release/millionws; admin on a free loopback port)
and `locust --headless HoldUser` (or EchoUser) against it (Debian's python3-locust), samples the Locust
process's resident memory (VmRSS, RssAnon from /proc) against the connections the server
reports open (millionws_connections_active), and prints one JSON object:

  bytes_per_user        least-squares slope of VmRSS over connections held during the ramp
  bytes_per_user_anon   the same for RssAnon (heap: what the users themselves cost)
  rss_at_start          VmRSS just before the first connection (Locust loaded, no users)
  rss_held, connections_held
  cpu_percent_held      the Locust process's CPU over the hold (pings every MWS_PING_INTERVAL,
                        or echoes at MWS_ECHO_RATE a user)
  cpu_us_per_exchange   that CPU divided by the pings (users / interval) or echoes (users x
                        rate) due in the hold

The kernel's side of each connection (socket, file, epoll item: ~4.2 KB on this machine,
BENCHMARKS.md) is not in RSS; add it when sizing a worker's memory limit.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
import harness  # noqa: E402


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def slope(points):
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def raise_fd_limit(users):
    """One descriptor per user in Locust and one in the server (children inherit the limit);
    raising the hard limit needs root, as on the machines here."""
    want = users + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        if hard < want:
            raise SystemExit("%d users need %d descriptors; the hard limit is %d" %
                             (users, want, hard)) from None
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10000)
    p.add_argument("--spawn-rate", type=float, default=500)
    p.add_argument("--hold", type=float, default=60, help="seconds held after the ramp")
    p.add_argument("--ping-interval", type=float, default=30)
    p.add_argument("--user-class", choices=("HoldUser", "EchoUser"), default="HoldUser")
    p.add_argument("--echo-rate", type=float, default=1, help="EchoUser: messages a second each")
    p.add_argument("--binary", default=harness.default_binary("millionws"))
    args = p.parse_args()
    raise_fd_limit(args.users)

    logdir = Path(tempfile.mkdtemp(prefix="mws-locust-measure-"))
    server = harness.start_server(args.binary, logdir)
    ramp_timeout = args.users / args.spawn_rate * 3 + 60
    run_time = int(ramp_timeout + args.hold + 30)
    locust = harness.Proc(
        harness.locust_argv("--headless", "--only-summary", "-u", args.users, "-r",
                            args.spawn_rate, "-t", "%ds" % run_time, "--host",
                            "http://127.0.0.1:%d" % server.port, "--csv", logdir / "measure",
                            "--stop-timeout", "5", args.user_class),
        logdir / "locust.log", harness.locust_env(MWS_PING_INTERVAL=args.ping_interval,
                                                  MWS_ECHO_RATE=args.echo_rate))
    result = {"users": args.users, "user_class": args.user_class, "spawn_rate": args.spawn_rate,
              "hold_seconds": args.hold, "ping_interval": args.ping_interval,
              "echo_rate": args.echo_rate, "logs": str(logdir)}
    try:
        points = []
        start = proc_status(locust.pid)
        deadline = time.monotonic() + ramp_timeout
        held = 0
        while time.monotonic() < deadline and locust.proc.poll() is None:
            held = harness.metric(harness.metrics(server.admin_port),
                                  "millionws_connections_active")
            points.append((held, proc_status(locust.pid)))
            if held >= args.users:
                break
            time.sleep(0.5)
        if held < args.users:
            raise SystemExit("only %d of %d users connected; see %s" % (held, args.users, logdir))
        time.sleep(5)  # the last users' first pings
        cpu_before, t_before = proc_cpu_seconds(locust.pid), time.monotonic()
        time.sleep(args.hold)
        cpu_after, t_after = proc_cpu_seconds(locust.pid), time.monotonic()
        held_status = proc_status(locust.pid)
        held_end = harness.metric(harness.metrics(server.admin_port),
                                  "millionws_connections_active")
        # Least squares over the ramp's samples with users on (before the first connection
        # the process is still importing Locust), and the last sample before it as the base.
        ramp = [(x, s["VmRSS"]) for x, s in points if x > 0]
        ramp_anon = [(x, s["RssAnon"]) for x, s in points if x > 0]
        start = [s for x, s in points if x == 0][-1] if points[0][0] == 0 else start
        cpu = cpu_after - cpu_before
        result.update({
            "connections_held": int(held_end),
            "rss_at_start": start["VmRSS"],
            "rss_held": held_status["VmRSS"],
            "rss_anon_held": held_status["RssAnon"],
            "bytes_per_user": round(slope(ramp)),
            "bytes_per_user_anon": round(slope(ramp_anon)),
            "bytes_per_user_end_to_end": round((held_status["VmRSS"] - start["VmRSS"])
                                               / args.users),
            "samples": len(ramp),
            "cpu_percent_held": round(100 * cpu / (t_after - t_before), 2),
        })
        # Exchanges due in the hold: pings at the configured interval (each user's is +-10%,
        # averaging out), or echoes at the configured rate.
        per_second = (args.users / args.ping_interval if args.user_class == "HoldUser"
                      else args.users * args.echo_rate)
        result["exchanges_per_second_expected"] = round(per_second, 1)
        result["cpu_us_per_exchange"] = round(cpu / ((t_after - t_before) * per_second) * 1e6, 1)
    finally:
        locust.stop(grace=30)
        server.stop()
    stats = harness.read_stats(logdir / "measure")
    result["locust"] = {name: {"requests": harness.count(stats, name),
                               "failures": harness.count(stats, name, "Failure Count")}
                        for name in ("connect", "ping", "echo")}
    print(json.dumps(result, indent=2))
    failures = sum(v["failures"] for v in result["locust"].values())
    return 1 if failures or result["connections_held"] < args.users else 0


if __name__ == "__main__":
    sys.exit(main())
