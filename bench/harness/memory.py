"""`memory N`: what N idle WebSocket connections cost a server.

Sequence: start the servers (one per `server_per_process` connections, one shared port) ->
warm up (a few connections echo and close) -> sample them idle -> start the load generator
in the background (ramp N, then hold) -> follow its progress line until every worker is past
its ramp -> settle -> sample while the load generator is still holding -> let it finish
(it verifies that a sample echoes) -> stop the servers -> sample the kernel again.

Per-connection figures divide growth between the idle and the loaded sample by the number
of connections the servers held at the loaded sample (descriptor growth, which is N when
nothing failed).
"""

import math
import time

from . import system
from .procs import LoadRun, ServerGroup

SETTLE_SECONDS = 3.0
SAMPLES = 3
SAMPLE_INTERVAL = 1.0
STALL_SECONDS = 20.0
WARMUP_CONNECTIONS = 20  # per server process


def _per_conn(delta, held):
    return delta / held if held else None


def _spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return lo if lo == hi else f"{lo}-{hi}"


def run(ctx, kind, connections, threads=1, admin=False, hold=30.0, per_process=None, label="",
        echo=(0, 0, 0)):
    """One memory measurement; returns a run record (never raises for a failed measurement:
    problems are recorded in the record and in ctx.problems)."""
    n = connections
    nservers = ctx.server_processes(n, per_process)
    lprocs, ips = ctx.load_plan(n)
    # Generous: the ramp runs at about 9K/s here (CPU-bound on two cores); verify and close
    # of a million connections take a while too. A wss:// ramp is bound by full TLS
    # handshakes, both ends on the same two cores: about 700/s here (2026-12-01).
    ramp_rate = 250 if kind == "millionws-tls" else max(1000, min(ctx.rate, 4000))
    ramp_budget = n / ramp_rate + 60
    echo_rate, echo_seconds, echo_connections = echo
    deadline = ramp_budget + hold + 120 + (echo_seconds if echo_rate else 0)
    record = {
        "type": "memory", "server": kind, "label": label, "connections_requested": n,
        "server_processes": nservers, "threads_per_server_process": threads,
        "admin_endpoint": admin, "load_processes": lprocs, "source_ips": ips, "hold_seconds": hold,
    }
    tag = f"memory-{kind}-{n}"
    servers = ServerGroup(kind, ctx.binary(kind), nservers, threads, ctx.rundir / tag,
                          bind=ctx.bind, admin=admin, log=ctx.log)
    load = None
    problems = []
    try:
        ctx.log(f"{tag}: starting {nservers} {kind} process(es), {threads} thread(s) each")
        servers.start()
        record["server_argv"] = servers.argv_example()
        url = servers.url()
        record["warmup"] = _warm_up(ctx, servers, url, tag, problems)
        record["other_cores_before"] = ctx.settle_machine()
        time.sleep(1.0)
        # Kernel first: listing the servers' descriptors creates slab objects of its own.
        kbase = system.kernel_sample()
        base = system.sample_processes(servers.pids)
        estab0 = system.tcp_established()
        args = ctx.load_args(url, n, lprocs, ips, hold, deadline, quiet=False,
                             mode="open" if echo_rate else "none") + servers.load_flags()
        if echo_rate:
            # Latency with every connection still held: an open-loop phase after the hold.
            args += ["--echo-rate", str(echo_rate), "--duration",
                     str(echo_seconds), "--echo-connections", str(echo_connections)]
            record["echo_phase"] = {"rate": echo_rate, "seconds": echo_seconds,
                                    "connections": echo_connections}
        load = LoadRun(ctx.load, args, ctx.rundir / tag, "load", timeout=deadline + 60)
        record["load_argv"] = load.argv
        ctx.log(f"{tag}: {' '.join(load.argv)}")
        load.start()

        held, ramp_wall = _wait_for_ramp(ctx, tag, servers, load, estab0, n, ramp_budget + 60)
        record["ramp_wall_seconds_observed"] = ramp_wall
        if held < n:
            problems.append(f"{tag}: only {held} of {n} connections open after the ramp")
        if load.poll() is not None:
            problems.append(f"{tag}: load generator exited (code {load.proc.returncode}) before "
                            f"the loaded sample: {load.stderr_tail(3)}")
            raise _Abort()

        time.sleep(SETTLE_SECONDS)
        samples = []
        for i in range(SAMPLES):
            if i:
                time.sleep(SAMPLE_INTERVAL)
            kernel = system.kernel_sample()
            samples.append((system.sample_processes(servers.pids, with_fds=False), kernel))
        loaded, kloaded = samples[-1]
        fds = [system.proc_fd_count(p) for p in servers.pids]  # after the kernel samples
        for rec, count in zip(loaded["per_process"], fds):
            rec["fds"] = count
        loaded["total"]["fds"] = sum(c or 0 for c in fds)
        loaded_client = system.sample_processes(load.pids(), with_fds=False)
        record["metrics_loaded"] = servers.metrics() if admin else None
        if load.poll() is not None:
            problems.append(f"{tag}: load generator finished during the loaded sample; "
                            "raise --hold")
        held = loaded["total"]["fds"] - base["total"]["fds"]
        if held < n:
            problems.append(f"{tag}: the servers hold {held} of {n} connections (descriptors)")
        dead = servers.dead()
        if dead:
            problems.append(f"{tag}: server processes died while loaded: {dead}")

        ctx.log(f"{tag}: sampled {held} held connections; waiting for the load generator")
        load.wait()
        summary = _summary(load, problems, tag)
        record["load_summary"] = summary
        record["load_exit_code"] = load.proc.returncode
        record["load_rusage"] = load.rusage
        record["samples"] = {"idle": base, "loaded": loaded,
                             "loaded_rss_series": [s[0]["total"]["rss"] for s in samples],
                             "kernel_idle": _strip(kbase), "kernel_loaded": _strip(kloaded),
                             "load_generator_loaded": loaded_client["total"]}
        record["result"] = _figures(base, loaded, kbase, kloaded, held, summary,
                                    loaded_client, servers)
        res = record["result"]
        if held and abs(res["tcp_sockets_growth"] - 2 * held) > max(50, 0.02 * held):
            record.setdefault("warnings", []).append(
                f"{tag}: {res['tcp_sockets_growth']:,} TCP sockets appeared on the machine for "
                f"{2 * held:,} ends of our connections: other TCP activity ran during the "
                "measurement, so the kernel (slab) figure is contaminated; see "
                "slab_bytes_per_connection_socket_adjusted")
        series = record["samples"]["loaded_rss_series"]
        record["result"]["rss_spread_during_sampling_bytes"] = max(series) - min(series)
    except _Abort:
        pass
    except Exception as e:  # a failed measurement is a result too (SIGINT/SIGTERM go through)
        problems.append(f"{tag}: {type(e).__name__}: {e}")
    finally:
        if load is not None:
            load.stop()
        servers.stop()
        bad = servers.bad_exits()
        record["server_exit_codes"] = servers.exit_codes
        if bad:
            problems.append(f"{tag}: server processes exited badly on SIGTERM: "
                            f"{[(b['pid'], b['exit_code']) for b in bad]} "
                            f"(last log lines: {bad[0]['log_tail']!r})")
    time.sleep(2.0)
    record["samples_after"] = {"kernel_after": _strip(system.kernel_sample())}
    record["problems"] = problems
    for p in problems:
        ctx.problem(p)
    for w in record.get("warnings", []):
        ctx.warning(w)
    return record


class _Abort(Exception):
    pass


def _warm_up(ctx, servers, url, tag, problems):
    """A few connections echo for a second and close before the idle sample, so code and
    library pages touched by the first connection (file-backed RSS, a fixed cost) are
    already in the idle figure instead of being charged to the N connections."""
    n = WARMUP_CONNECTIONS * servers.count
    args = ctx.load_args(url, n, 1, 1, hold=0, deadline=60, mode="closed", echo_connections=n,
                         duration=1, message_bytes=32) + servers.load_flags()
    args[args.index("--verify-sample") + 1] = "0"
    load = LoadRun(ctx.load, args, ctx.rundir / tag, "warmup", timeout=90)
    load.start()
    try:
        code = load.wait()
    finally:
        load.stop()
    if code != 0:
        problems.append(f"{tag}: warm-up load exited {code}: {load.stderr_tail(3)}")
    return {"connections": n, "exit_code": code}


def _wait_for_ramp(ctx, tag, servers, load, estab0, n, budget):
    """Wait until the load generator reports that every worker is past its ramp (its
    progress line says "hold"), it exits, progress stalls or the budget runs out; returns
    (connections open according to the load generator, seconds).

    Without progress lines (another load generator) the established-connection count is
    the fallback; it also counts other loopback traffic on the machine. Neither reading
    touches the servers' descriptor tables (see system.tcp_established)."""
    start = time.monotonic()
    held, last_change, last_held, last_report = 0, start, -1, start
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        prog = load.progress()
        if prog:
            held = prog["open"]
            past_ramp = prog["phase"] not in ("start", "ramp")
        elif now - start < 5:
            continue  # its first progress line comes after a second
        else:
            held = (system.tcp_established() - estab0) // 2
            past_ramp = held >= n
        if held != last_held:
            last_change, last_held = now, held
        if now - last_report >= 10:
            ctx.log(f"{tag}: ramp {held:,}/{n:,} after {now - start:.0f}s"
                    + (f" ({prog['phase']}, {prog['failed']} failed)" if prog else ""))
            last_report = now
        if past_ramp:
            break
        if load.poll() is not None or servers.dead():
            break
        if now - last_change > STALL_SECONDS and held > 0:
            ctx.log(f"{tag}: ramp stalled at {held:,}/{n:,}")
            break
        if now - start > budget:
            ctx.log(f"{tag}: ramp budget of {budget:.0f}s spent at {held:,}/{n:,}")
            break
    seconds = time.monotonic() - start
    ctx.log(f"{tag}: {held:,}/{n:,} connections open after {seconds:.1f}s")
    return held, seconds


def _summary(load, problems, tag):
    try:
        summary = load.summary()
    except RuntimeError as e:
        problems.append(str(e))
        return None
    problems += load.summary_problems(summary, tag)
    return summary


def _strip(k):
    """A kernel sample without the full slabinfo table (kept small for the results file)."""
    return {key: v for key, v in k.items() if key != "slabinfo"}


def _figures(base, loaded, kbase, kloaded, held, summary, client, servers):
    b, l = base["total"], loaded["total"]
    mb, ml = kbase["meminfo"], kloaded["meminfo"]
    tcp_b, tcp_l = kbase["sockstat"].get("TCP", {}), kloaded["sockstat"].get("TCP", {})
    alive = [p for p in loaded["per_process"] if p["alive"]]
    caches = system.slab_growth(kbase, kloaded, max(1, held))
    ramp = (summary or {}).get("ramp", {})
    sockets = tcp_l.get("alloc", 0) - tcp_b.get("alloc", 0)
    vs = (summary or {}).get("verify_sample", {})
    return {
        "connections_held": held,
        "connections_connected_by_load": (summary or {}).get("connections", {}).get("connected"),
        "rss_idle_bytes": b["rss"], "rss_loaded_bytes": l["rss"],
        "rss_anon_idle_bytes": b["rss_anon"], "rss_anon_loaded_bytes": l["rss_anon"],
        "rss_bytes_per_connection": _per_conn(l["rss"] - b["rss"], held),
        "rss_anon_bytes_per_connection": _per_conn(l["rss_anon"] - b["rss_anon"], held),
        "slab_idle_bytes": mb["Slab"], "slab_loaded_bytes": ml["Slab"],
        # Both ends of a loopback connection live in this kernel: this is client + server.
        "slab_bytes_per_connection": _per_conn(ml["Slab"] - mb["Slab"], held),
        "slab_unreclaimable_bytes_per_connection":
            _per_conn(ml["SUnreclaim"] - mb["SUnreclaim"], held),
        "slab_caches_bytes_per_connection":
            {k: round(v / held, 1) for k, v in caches.items()} if held else {},
        # Slab and socket counts are machine-wide: anything else opening TCP sockets during
        # the run shows up here. Dividing by the sockets that appeared (two per loopback
        # connection) instead of by our connections corrects for that to first order.
        "tcp_sockets_growth": sockets,
        "slab_bytes_per_connection_socket_adjusted":
            (ml["Slab"] - mb["Slab"]) / (sockets / 2) if sockets > 0 else None,
        "tcp_socket_buffer_bytes_per_connection":
            _per_conn((tcp_l.get("mem", 0) - tcp_b.get("mem", 0)) * system.PAGE_BYTES, held),
        "tcp_inuse_idle": tcp_b.get("inuse"), "tcp_inuse_loaded": tcp_l.get("inuse"),
        "threads_per_process": _spread([p["threads"] for p in alive]),
        "fds_per_process": [p["fds"] for p in alive],
        "fds_per_process_max": max((p["fds"] or 0 for p in alive), default=None),
        "server_rss_per_process_bytes": [p["rss"] for p in alive],
        "load_generator_rss_bytes": client["total"]["rss"],
        "load_generator_rss_bytes_per_connection": _per_conn(client["total"]["rss"], held),
        "ramp_seconds": ramp.get("seconds"),
        "ramp_rate_per_second": ramp.get("rate_per_second"),
        "handshake_latency_ms": (summary or {}).get("handshake_latency_ms"),
        "verify": f"{vs.get('ok', 0)}/{vs.get('requested', 0)}" if vs else "-",
    }


def plan_text(ctx, n, per_process=None):
    s = ctx.server_processes(n, per_process)
    lp, ips = ctx.load_plan(n)
    return (f"{n:,} connections: {s} server process(es) (<= {math.ceil(n / s):,} each), "
            f"{lp} load process(es), {ips} source IP(s)")
