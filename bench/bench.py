#!/usr/bin/python3
"""MillionWS benchmark harness.

  bench/bench.py memory N [--server millionws|baseline]   memory per idle connection
  bench/bench.py echo [--server ...]                      throughput and latency
  bench/bench.py compare                                  MillionWS vs the Go baseline
  bench/bench.py tls                                      wss:// against ws:// on MillionWS
  bench/bench.py charts                                   PNGs from bench/results/*.json
  bench/bench.py restore-sysctls                          undo a run killed with SIGKILL

Every measuring subcommand writes bench/results/<name>.json and prints a table; see
bench/README.md for what is measured and how. Run as root (sysctls, /proc/slabinfo).
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import context, echo, handshakes, memory, report, system  # noqa: E402

# Memory a run needs, per connection, to refuse one that cannot fit (server user space +
# kernel for both ends + load generator), generous on purpose.
# A wss:// client holds an OpenSSL SSL object (~20 KB) per connection in the load generator.
EST_BYTES = {"millionws": 1_500 + 9_000 + 2_000, "baseline": 30_000 + 9_000 + 2_000,
             "millionws-tls": 2_000 + 9_000 + 25_000}


def _parse_sizes(text):
    return [int(x) for x in text.split(",") if x.strip()]


def _on_signal(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so every `finally` runs: load generator and
    # servers stopped by PID, sysctls restored.
    raise SystemExit(128 + signum)


def make_context(args, kind):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rundir = Path(args.rundir or f"/tmp/millionws-bench/{kind}-{stamp}-{os.getpid()}")
    rundir.mkdir(parents=True, exist_ok=True)
    ctx = context.Context(
        millionws=Path(args.millionws).resolve(), load=Path(args.load).resolve(),
        baseline=Path(args.baseline).resolve(),
        results=Path(args.results), rundir=rundir, server_per_process=args.per_process,
        load_per_process=args.load_per_process, per_source_ip=args.per_source_ip,
        rate=args.rate, max_inflight=args.max_inflight, connect_timeout=args.connect_timeout,
        verify_sample=args.verify_sample, bind=args.bind, quiet_wait=args.quiet_wait)
    ctx.log_file = open(rundir / "bench.log", "a")
    ctx.log(f"run directory (server and load logs): {rundir}")
    return ctx


def settings_of(args):
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if k not in ("func",)}


def tuning_for(args, ctx, n):
    """The sysctls to raise for a run of n connections (empty: leave them alone)."""
    if args.tune_sysctls == "never":
        return {}
    want = system.large_run_sysctls(n)
    if args.tune_sysctls == "always" or n > args.tune_above:
        return want
    # Small runs: raise only conntrack, and only if an earlier run's entries leave too little.
    cmax, ccount = system.read_sysctl("net.netfilter.nf_conntrack_max"), system.conntrack_count()
    if cmax is not None and (ccount or 0) + 1.2 * n > 0.9 * cmax:
        return {"net.netfilter.nf_conntrack_max": want["net.netfilter.nf_conntrack_max"]}
    return {}


def preflight_memory(kinds, n, force):
    avail = system.meminfo()["MemAvailable"]
    for kind in kinds:
        need = n * EST_BYTES[kind]
        if need > 0.9 * avail and not force:
            raise SystemExit(f"{n:,} connections on {kind} need about {need / 2**30:.1f} GiB; "
                             f"{avail / 2**30:.1f} GiB available (--force to try anyway)")


def finish(ctx, kind, args, runs, name):
    used = {r["server"] for r in runs}
    binaries = {"load": ctx.load, **{k: ctx.binary(k) for k in sorted(used)}}
    doc = report.document(kind, context.REPO, settings_of(args), runs, ctx.problems, binaries)
    doc["run_directory"] = str(ctx.rundir)
    doc["warnings"] = ctx.warnings
    path = report.write(doc, ctx.results, name)
    print()
    report.print_runs(runs)
    if ctx.warnings:
        print("WARNINGS:")
        for w in ctx.warnings:
            print(f"  - {w}")
    if ctx.problems:
        print("PROBLEMS:")
        for p in ctx.problems:
            print(f"  - {p}")
    print(f"results: {path}\nlogs:    {ctx.rundir}")
    return 0 if not ctx.problems else 1


# --------------------------------------------------------------------------- subcommands

def cmd_memory(args):
    n = args.connections
    ctx = make_context(args, f"memory-{args.server}-{n}")
    ctx.log(memory.plan_text(ctx, n, args.per_process))
    ctx.check_binaries([args.server])
    preflight_memory([args.server], n, args.force)
    runs = []
    with system.SysctlTuning(tuning_for(args, ctx, n), ctx.log) as tuning:
        runs.append(memory.run(ctx, args.server, n, threads=args.threads, admin=args.admin,
                               hold=args.hold, echo=(args.echo_rate, args.echo_seconds,
                                                     args.echo_connections)))
        runs[-1]["sysctls"] = tuning.applied()
    return finish(ctx, "memory", args, runs, args.name or f"memory-{args.server}-{n}")


def cmd_echo(args):
    ctx = make_context(args, f"echo-{args.server}")
    ctx.check_binaries([args.server])
    runs = []
    with system.SysctlTuning(tuning_for(args, ctx, args.latency_connections), ctx.log):
        if not args.skip_throughput:
            runs += echo.throughput(ctx, args.server, _parse_sizes(args.sizes),
                                    connections=args.connections, duration=args.duration,
                                    threads=args.threads, message_type=args.message_type,
                                    syscall_seconds=args.syscall_seconds)
        if not args.skip_latency:
            runs += echo.latency(ctx, args.server, connections=args.latency_connections,
                                 active=args.latency_active, rate=args.latency_rate,
                                 duration=args.latency_duration,
                                 message_bytes=args.latency_bytes, threads=args.threads,
                                 message_type=args.message_type)
    return finish(ctx, "echo", args, runs, args.name or f"echo-{args.server}")


def cmd_compare(args):
    ctx = make_context(args, "compare")
    servers = ["millionws", "baseline"]
    ctx.check_binaries(servers)
    sizes = _parse_sizes(args.memory_sizes)
    preflight_memory(servers, max(sizes), args.force)
    single = max(sizes)  # one server process per memory run, as in the original baseline
    if single > system.raise_nofile() - 200:
        raise SystemExit(f"{single:,} connections do not fit one process's descriptor limit")
    runs = []
    with system.SysctlTuning(tuning_for(args, ctx, max(max(sizes), args.latency_connections)),
                             ctx.log):
        for n in sizes:
            for kind in servers:
                runs.append(memory.run(ctx, kind, n, threads=args.threads, hold=args.hold,
                                       per_process=single, label="compare"))
        # Rounds alternate the servers, so a drift of the shared machine over the run (the
        # echo figures move by tens of percent between runs here) lands on both.
        for round_number in range(1, args.rounds + 1):
            for kind in servers:
                runs += echo.throughput(ctx, kind, _parse_sizes(args.sizes),
                                        connections=args.connections, duration=args.duration,
                                        threads=args.echo_threads, label="compare",
                                        syscall_seconds=args.syscall_seconds,
                                        round_number=round_number)
        for kind in servers:
            runs += echo.latency(ctx, kind, connections=args.latency_connections,
                                 active=args.latency_active, rate=args.latency_rate,
                                 duration=args.latency_duration, message_bytes=args.latency_bytes,
                                 threads=args.echo_threads, label="compare")
    code = finish(ctx, "compare", args, runs, args.name or "compare")
    print_ratios(runs)
    return code


def cmd_tls(args):
    """wss:// against ws:// in one run: memory per idle connection, echo throughput (rounds
    alternating), handshakes per server CPU-second (plain upgrade, full TLS, resumed TLS)."""
    ctx = make_context(args, "tls")
    kinds = ["millionws", "millionws-tls"]
    ctx.check_binaries(kinds)
    sizes = _parse_sizes(args.memory_sizes)
    preflight_memory(kinds, max(sizes), args.force)
    runs = []
    with system.SysctlTuning(tuning_for(args, ctx, max(sizes)), ctx.log):
        for n in sizes:
            for kind in kinds:
                runs.append(memory.run(ctx, kind, n, threads=args.threads, hold=args.hold,
                                       per_process=max(sizes), label="tls"))
        for round_number in range(1, args.rounds + 1):
            for kind in kinds:
                runs += echo.throughput(ctx, kind, _parse_sizes(args.sizes),
                                        connections=args.connections, duration=args.duration,
                                        threads=args.echo_threads, label="tls",
                                        syscall_seconds=args.syscall_seconds,
                                        round_number=round_number)
        for kind, resume in (("millionws", False), ("millionws-tls", False),
                             ("millionws-tls", True)):
            runs.append(handshakes.run(ctx, kind, args.handshakes, threads=args.threads,
                                       resume=resume, label="tls"))
    code = finish(ctx, "tls", args, runs, args.name or "tls")
    print_tls(runs)
    return code


def print_tls(runs):
    def memory_of(kind, n):
        for r in runs:
            if r["type"] == "memory" and r["server"] == kind and \
                    r["connections_requested"] == n and r.get("result"):
                return r["result"]
        return None
    rows = []
    for n in sorted({r["connections_requested"] for r in runs if r["type"] == "memory"}):
        p, t = memory_of("millionws", n), memory_of("millionws-tls", n)
        if p and t:
            for key, what in (("rss_bytes_per_connection", "RSS B/conn"),
                              ("rss_anon_bytes_per_connection", "RssAnon B/conn"),
                              ("load_generator_rss_bytes_per_connection",
                               "load generator RSS B/conn")):
                rows.append([f"{what} @ {n:,}", report.fmt_num(p[key], 1),
                             report.fmt_num(t[key], 1), ""])
    key = "echoes_per_server_cpu_second"
    for size in sorted({r["message_bytes"] for r in runs if r["type"] == "throughput"}):
        p, t = (echo.median_result([r["result"] for r in echo.rounds_of(runs, kind, size)])
                for kind in ("millionws", "millionws-tls"))
        if p and t:
            rows.append([f"echoes per server CPU-s @ {size} B (median round)",
                         report.fmt_num(p[key]), report.fmt_num(t[key]),
                         f"{t[key] / p[key]:.2f}x"])
            for part in ("user", "system"):
                k = f"server_{part}_us_per_echo"
                if p.get(k) is not None and t.get(k) is not None:
                    rows.append([f"  server {part} CPU µs per echo @ {size} B",
                                 report.fmt_num(p[k], 2), report.fmt_num(t[k], 2), ""])
    hs = {r["variant"]: r["result"] for r in runs
          if r["type"] == "handshakes" and r.get("result")}
    for variant in ("plain", "full", "resumed"):
        res = hs.get(variant)
        if res:
            mix = "" if variant == "plain" else \
                f"{res['tls_full']} full / {res['tls_resumed']} resumed"
            rows.append([f"{variant} handshakes per server CPU-s "
                         f"({report.fmt_num(res['server_cpu_us_per_handshake'], 1)} µs each)",
                         report.fmt_num(res["handshakes_per_server_cpu_second"])
                         if variant == "plain" else "",
                         report.fmt_num(res["handshakes_per_server_cpu_second"])
                         if variant != "plain" else "", mix])
    if rows:
        print("== wss:// against ws://")
        report.table(["measure", "ws://", "wss://", "note"], rows)


def print_ratios(runs):
    def pick(kind, server, **kw):
        for r in runs:
            if r["type"] == kind and r["server"] == server and r.get("result") and all(
                    r.get(k) == v for k, v in kw.items()):
                return r["result"]
        return None

    def ratio(a, b, better, worse):
        """a/b as "N.NNx better" (>= 1) or "N.NNx worse"."""
        if not a or not b:
            return "-"
        x = a / b
        return f"{x:,.2f}x {better}" if x >= 1 else f"{1 / x:,.2f}x {worse}"
    rows = []
    for n in sorted({r["connections_requested"] for r in runs if r["type"] == "memory"}):
        m, b = pick("memory", "millionws", connections_requested=n), pick(
            "memory", "baseline", connections_requested=n)
        if m and b:
            for key, what in (("rss_bytes_per_connection", "RSS B/conn"),
                              ("rss_anon_bytes_per_connection", "RssAnon B/conn"),
                              ("slab_bytes_per_connection_socket_adjusted",
                               "kernel slab B/conn (both ends)")):
                rows.append([f"{what} @ {n:,}", report.fmt_num(b[key], 1),
                             report.fmt_num(m[key], 1), ratio(b[key], m[key], "less", "more")])
    key = "echoes_per_server_cpu_second"
    for size in sorted({r["message_bytes"] for r in runs if r["type"] == "throughput"}):
        mr, br = ([r["result"] for r in echo.rounds_of(runs, server, size)]
                  for server in ("millionws", "baseline"))
        m, b = echo.median_result(mr), echo.median_result(br)
        if m and b:
            what = f"median of {len(mr)} rounds" if len(mr) > 1 else "one round"
            rows.append([f"echoes per server CPU-s @ {size} B ({what})",
                         report.fmt_num(b[key]), report.fmt_num(m[key]),
                         ratio(m[key], b[key], "more", "fewer")])
            if len(mr) > 1 and len(mr) == len(br):
                rows.append([f"  round by round @ {size} B", "", "",
                             ", ".join(f"{x[key] / y[key]:.2f}x" for x, y in zip(mr, br)
                                       if x.get(key) and y.get(key))])
            for part in ("user", "system"):
                k = f"server_{part}_us_per_echo"
                if b.get(k) is not None and m.get(k) is not None:
                    rows.append([f"server {part} CPU µs per echo @ {size} B",
                                 report.fmt_num(b[k], 2), report.fmt_num(m[k], 2),
                                 ratio(b[k], m[k], "less", "more")])
            mc, bc = m.get("syscalls_per_echo"), b.get("syscalls_per_echo")
            if mc and bc:
                rows.append([f"server system calls per echo @ {size} B",
                             report.fmt_num(bc["total"], 2), report.fmt_num(mc["total"], 2),
                             ratio(bc["total"], mc["total"], "fewer", "more")])
                rows.append([f"  of which read / write / epoll_wait @ {size} B",
                             _call_split(bc), _call_split(mc), ""])
            # Both servers make one read and one write per echo here, so the kernel's part
            # is a floor: even with no user time at all MillionWS could not beat the
            # baseline's CPU per echo by more than this.
            mk, bu, bk = (m.get("server_system_us_per_echo"), b.get("server_user_us_per_echo"),
                          b.get("server_system_us_per_echo"))
            if mk and bu is not None and bk is not None:
                rows.append([f"ceiling with zero user time @ {size} B", "-",
                             f"{(bu + bk) / mk:.2f}x", "(baseline CPU per echo / "
                             "MillionWS kernel CPU per echo)"])
    m, b = pick("latency", "millionws"), pick("latency", "baseline")
    if m and b:
        for k in ("p50", "p99", "p999"):
            bm, mm = b["latency_ms"].get(k), m["latency_ms"].get(k)
            rows.append([f"latency {k} (ms)", report.fmt_ms(bm), report.fmt_ms(mm),
                         ratio(bm, mm, "lower", "higher")])
    if rows:
        print("== MillionWS vs Go + gorilla baseline")
        report.table(["measure", "baseline", "millionws", "millionws is"], rows)


def _call_split(per_echo):
    return " / ".join(f"{per_echo[k]:.2f}" for k in ("read", "write", "epoll_wait"))


def cmd_charts(args):
    from harness import charts
    written, docs = charts.render(args.results)
    print(f"read {len(docs)} result file(s)")
    for w in written:
        print(f"wrote {w}")
    return 0


def cmd_restore(args):
    system.restore_from_file(lambda m: print(m, file=sys.stderr))
    return 0


# --------------------------------------------------------------------------- arguments

def common(p):
    g = p.add_argument_group("binaries and files")
    g.add_argument("--millionws", default=str(context.default_millionws()),
                   help="server binary (env MILLIONWS_BIN; default build/release/millionws)")
    g.add_argument("--load", default=str(context.default_load()),
                   help="load generator (env MILLIONWS_LOAD_BIN; default build/release/...)")
    g.add_argument("--baseline", default=str(context.default_baseline()),
                   help="Go baseline (env MILLIONWS_BASELINE_BIN; built by "
                        "bench/baseline/build.sh)")
    g.add_argument("--results", default=str(context.REPO / "bench/results"),
                   help="where result JSON goes")
    g.add_argument("--name", help="result file name without .json (default from the run)")
    g.add_argument("--rundir", help="server and load logs (default /tmp/millionws-bench/...)")
    g = p.add_argument_group("load shape")
    g.add_argument("--bind", default="127.0.0.1", help="server address")
    g.add_argument("--per-process", type=int, default=18000,
                   help="connections per server process at most (descriptor limit 20000)")
    g.add_argument("--load-per-process", type=int, default=18000,
                   help="connections per load-generator process at most")
    g.add_argument("--per-source-ip", type=int, default=12000,
                   help="connections per client source address at most (keep below half the "
                        "ephemeral port range: connect() prefers even ports)")
    g.add_argument("--rate", type=int, default=20000, help="new connections per second")
    g.add_argument("--max-inflight", type=int, default=2000,
                   help="handshakes in flight per load process")
    g.add_argument("--connect-timeout", type=float, default=15.0, help="seconds per connect")
    g.add_argument("--verify-sample", type=int, default=200,
                   help="connections whose echo is verified at the end")
    g.add_argument("--tune-sysctls", choices=["auto", "always", "never"], default="auto",
                   help="raise port range, somaxconn, syn backlog, conntrack and file-max "
                        "for the run and restore them (auto: above --tune-above connections)")
    g.add_argument("--tune-above", type=int, default=200_000)
    g.add_argument("--force", action="store_true", help="skip the free-memory check")
    g.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before each measurement, wait up to this many seconds for other "
                        "work on the machine to stop (0: don't)")


def echo_options(p, threads_flag="--threads"):
    p.add_argument(threads_flag, dest="threads" if threads_flag == "--threads" else "echo_threads",
                   type=int, default=2, help="server threads (millionws) / GOMAXPROCS (baseline)")
    p.add_argument("--sizes", default="32,1024", help="closed-loop message sizes, bytes")
    p.add_argument("--connections", type=int, default=500, help="closed-loop connections")
    p.add_argument("--duration", type=float, default=10.0, help="closed-loop seconds per size")
    p.add_argument("--message-type", choices=["binary", "text"], default="binary")
    p.add_argument("--syscall-seconds", type=float, default=5.0,
                   help="after each closed-loop run, one of this many seconds with the "
                        "servers' system calls counted by perf (0: none)")
    p.add_argument("--latency-connections", type=int, default=20000, help="held connections")
    p.add_argument("--latency-active", type=int, default=1000, help="connections sending")
    p.add_argument("--latency-rate", type=int, default=10000, help="messages per second in all")
    p.add_argument("--latency-duration", type=float, default=20.0, help="seconds")
    p.add_argument("--latency-bytes", type=int, default=32, help="message size, bytes")


def parser():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("memory", help="memory per idle connection at N connections")
    p.add_argument("connections", type=int, metavar="N")
    p.add_argument("--server", choices=["millionws", "millionws-tls", "baseline"],
                   default="millionws")
    p.add_argument("--threads", type=int, default=1, help="threads per server process")
    p.add_argument("--admin", action="store_true",
                   help="give each millionws process its own admin port (scraped when loaded)")
    p.add_argument("--hold", type=float, default=30.0,
                   help="seconds the load generator holds the connections after its ramp")
    p.add_argument("--echo-rate", type=int, default=0,
                   help="after the hold, an open-loop echo phase at this many messages/s in "
                        "total, while every connection is still held (0: none)")
    p.add_argument("--echo-seconds", type=int, default=10, help="length of that echo phase")
    p.add_argument("--echo-connections", type=int, default=1000,
                   help="connections that send in that echo phase")
    common(p)
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("echo", help="closed-loop throughput and open-loop latency")
    p.add_argument("--server", choices=["millionws", "millionws-tls", "baseline"],
                   default="millionws")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    echo_options(p)
    common(p)
    p.set_defaults(func=cmd_echo)

    p = sub.add_parser("compare", help="memory and echo runs on MillionWS and the Go baseline")
    p.add_argument("--memory-sizes", default="5000,19000",
                   help="connection counts, each on a single server process")
    p.add_argument("--threads", type=int, default=1, help="threads per server (memory runs)")
    p.add_argument("--hold", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=3,
                   help="closed-loop throughput rounds, servers alternating; the ratio table "
                        "uses each server's median round")
    echo_options(p, "--echo-threads")
    common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("tls", help="wss:// against ws://: memory, echo, handshakes")
    p.add_argument("--memory-sizes", default="19000",
                   help="connection counts, each on a single server process")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per server (memory and handshake runs)")
    p.add_argument("--hold", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--handshakes", type=int, default=10000,
                   help="connections per handshake-rate run (one server process)")
    echo_options(p, "--echo-threads")
    common(p)
    p.set_defaults(func=cmd_tls)

    p = sub.add_parser("charts", help="render bench/results/*.png from the result files")
    p.add_argument("--results", default=str(context.REPO / "bench/results"))
    p.set_defaults(func=cmd_charts)

    p = sub.add_parser("restore-sysctls", help="restore sysctls saved by a killed run")
    p.set_defaults(func=cmd_restore)
    return ap


def main():
    args = parser().parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    system.raise_nofile()
    if args.command in ("memory", "echo", "compare", "tls") and os.geteuid() != 0:
        print("warning: not root; sysctls and /proc/slabinfo will be unavailable",
              file=sys.stderr)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
