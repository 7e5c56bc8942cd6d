"""`echo`: throughput and latency of the echo path.

Throughput (closed loop): C connections each send a message and wait for its echo, for D
seconds. The servers' utime+stime (from /proc/PID/stat) is read just before the load
generator starts and just after it exits, so the CPU of the 500-connection ramp and close
is included (a few milliseconds, against seconds of echo work); echoes per server
CPU-second = echoes received by the clients / server CPU-seconds in that window. On two
shared cores the load generator competes with the server, so echoes per second describe
the pair; echoes per server CPU-second describe the server.

Latency (open loop): H connections are held, A of them send at a fixed total rate R (the
send schedule does not wait for replies, so a slow server shows up as latency, not as a
lower rate); the load generator reports p50/p90/p99/p99.9/max of send-to-echo time.
"""

import time

from . import syscalls, system
from .procs import LoadRun, ServerGroup


def _server_group(ctx, kind, connections, threads, tag, per_process=None):
    n = ctx.server_processes(connections, per_process)
    return ServerGroup(kind, ctx.binary(kind), n, threads, ctx.rundir / tag, bind=ctx.bind,
                       log=ctx.log)


def _phase(ctx, servers, tag, args, timeout, problems):
    """Run one load generator to completion while accounting the servers' CPU."""
    load = LoadRun(ctx.load, args, ctx.rundir / tag, "load", timeout=timeout)
    busy_before = ctx.settle_machine()
    ctx.log(f"{tag}: {' '.join(load.argv)}")
    user0, sys0 = system.cpu_split_of(servers.pids)
    cpu0 = user0 + sys0
    busy0 = system.machine_busy_seconds()
    t0 = time.monotonic()
    series = []
    last = [t0]

    def tick():
        now = time.monotonic()
        if now - last[0] >= 1.0:
            series.append([round(now - t0, 2), round(system.cpu_seconds_of(servers.pids) - cpu0,
                                                     2)])
            last[0] = now
    load.start()
    try:
        load.wait(poll_interval=0.1, on_tick=tick)
    finally:
        load.stop()
    user1, sys1 = system.cpu_split_of(servers.pids)
    cpu = user1 + sys1 - cpu0
    busy = system.machine_busy_seconds() - busy0
    wall = time.monotonic() - t0
    load_cpu = _rusage_cpu(load.rusage) or 0
    # Everything else the machine did meanwhile (other people's builds and tests): it
    # competes for the two cores and makes the run slower and noisier.
    other = max(0.0, busy - cpu - load_cpu)
    warnings = []
    if other > 0.1 * wall:
        warnings.append(f"{tag}: other processes used {other:.1f} CPU-seconds during the "
                        f"{wall:.1f}s phase ({other / wall:.2f} cores): the machine was not "
                        "quiet")
        ctx.warning(warnings[-1])
    dead = servers.dead()
    if dead:
        problems.append(f"{tag}: server processes died: {dead}")
    summary = None
    try:
        summary = load.summary()
        problems += load.summary_problems(summary, tag)
    except RuntimeError as e:
        problems.append(str(e))
    return {"load_argv": load.argv, "load_exit_code": load.proc.returncode,
            "load_rusage": load.rusage, "load_summary": summary,
            "server_cpu_seconds": cpu, "server_user_cpu_seconds": user1 - user0,
            "server_system_cpu_seconds": sys1 - sys0, "wall_seconds": wall, "server_cpu_series": series,
            "load_cpu_seconds": load_cpu, "other_cpu_seconds": other,
            "machine_busy_seconds": busy, "other_cores_before": busy_before,
            "warnings": warnings}


def _count_syscalls(ctx, servers, tag, args, timeout, problems):
    """A second, untimed closed-loop run with the servers' system calls counted.

    Per echo: reads, writes, epoll waits and the rest, and how many echoes one epoll_wait
    served. None when perf cannot count here (a warning says why).
    """
    load = LoadRun(ctx.load, args, ctx.rundir / tag, "load", timeout=timeout)
    ctx.settle_machine()
    ctx.log(f"{tag}: counting the servers' system calls: {' '.join(load.argv)}")
    try:
        with syscalls.SyscallCount(servers.pids, ctx.rundir / tag, "servers") as count:
            load.start()
            try:
                load.wait(poll_interval=0.1)
            finally:
                load.stop()
        summary = load.summary()
    except (RuntimeError, TimeoutError) as e:
        problems.append(f"{tag}: {e}")
        return None
    problems += load.summary_problems(summary, tag)
    echoes = summary.get("echo", {}).get("received")
    if not echoes:
        return None
    per_echo = {k: v / echoes for k, v in count.by_kind.items()}
    waits = count.by_kind["epoll_wait"]
    return {"echoes": echoes, "counts": count.by_kind, "per_echo": per_echo,
            "echoes_per_epoll_wait": echoes / waits if waits else None,
            "load_argv": load.argv}


def throughput(ctx, kind, sizes, connections=500, duration=10.0, threads=2,
               message_type="binary", label="", syscall_seconds=5.0, round_number=None):
    """Closed-loop echo at each message size, one server group reused across sizes.

    syscall_seconds > 0 adds a shorter run per size in which the servers' system calls are
    counted (see _count_syscalls); the timed run never has perf attached.
    """
    tag = f"throughput-{kind}"
    servers = _server_group(ctx, kind, connections, threads, tag)
    records = []
    why_not = syscalls.unavailable_reason() if syscall_seconds > 0 else "not asked for"
    if syscall_seconds > 0 and why_not:
        ctx.warning(f"{tag}: system calls not counted: {why_not}")
    try:
        ctx.log(f"{tag}: starting {servers.count} {kind} process(es), {threads} thread(s) each")
        servers.start()
        url = servers.url()
        procs, ips = ctx.load_plan(connections)

        def closed_loop(seconds, size):
            return ctx.load_args(url, connections, procs, ips, hold=0, deadline=seconds + 60,
                                 mode="closed", echo_connections=connections, duration=seconds,
                                 message_bytes=size, message_type=message_type) \
                + servers.load_flags()
        for size in sizes:
            problems = []
            ph = _phase(ctx, servers, f"{tag}-{size}", closed_loop(duration, size),
                        duration + 120, problems)
            s = ph["load_summary"] or {}
            echo = s.get("echo", {})
            received = echo.get("received")
            cpu = ph["server_cpu_seconds"]
            result = {
                "echoes": received,
                "messages_per_second": echo.get("messages_per_second"),
                "echo_seconds": echo.get("duration_seconds"),
                "server_cpu_seconds": cpu,
                "server_cpu_utilisation": cpu / ph["wall_seconds"] if ph["wall_seconds"] else None,
                "echoes_per_server_cpu_second": received / cpu if received and cpu else None,
                # Where an echo's server CPU goes: the kernel's share (system calls and the
                # loopback delivery they carry) against the server's own code.
                "server_user_us_per_echo":
                    ph["server_user_cpu_seconds"] / received * 1e6 if received else None,
                "server_system_us_per_echo":
                    ph["server_system_cpu_seconds"] / received * 1e6 if received else None,
                "latency_ms": echo.get("latency_ms", {}),
                "load_cpu_seconds": _rusage_cpu(ph["load_rusage"]),
            }
            if not why_not:
                counted = _count_syscalls(ctx, servers, f"{tag}-{size}-syscalls",
                                          closed_loop(syscall_seconds, size),
                                          syscall_seconds + 120, problems)
                ph["syscall_count"] = counted
                if counted:
                    result["syscalls_per_echo"] = counted["per_echo"]
                    result["echoes_per_epoll_wait"] = counted["echoes_per_epoll_wait"]
            records.append({"type": "throughput", "server": kind, "label": label,
                            "round": round_number,
                            "message_bytes": size, "message_type": message_type,
                            "connections": connections, "duration_seconds": duration,
                            "server_processes": servers.count,
                            "threads_per_server_process": threads,
                            "server_argv": servers.argv_example(), **ph, "result": result,
                            "problems": problems})
            for p in problems:
                ctx.problem(p)
    except Exception as e:  # e.g. a server that does not start: record it, keep going
        ctx.problem(f"{tag}: {type(e).__name__}: {e}")
    finally:
        _stop(ctx, servers, tag, records)
    return records


def rounds_of(runs, server, message_bytes):
    """One server's closed-loop rounds at one size with a figure to compare, in run order."""
    return [r for r in runs
            if r["type"] == "throughput" and r["server"] == server
            and r["message_bytes"] == message_bytes and not r.get("problems")
            and (r.get("result") or {}).get("echoes_per_server_cpu_second")]


def median_result(results):
    """The round with the median echoes per server CPU-second (the lower middle one of an
    even count): a measured round, so its CPU split and system calls belong to it."""
    if not results:
        return None
    ordered = sorted(results, key=lambda r: r["echoes_per_server_cpu_second"])
    return ordered[(len(ordered) - 1) // 2]


def latency(ctx, kind, connections=20000, active=1000, rate=10000, duration=20.0,
            message_bytes=32, threads=2, message_type="binary", label=""):
    """Open-loop echo: `active` of `connections` held connections send `rate` msgs/s in all."""
    tag = f"latency-{kind}"
    servers = _server_group(ctx, kind, connections, threads, tag)
    problems = []
    record = {"type": "latency", "server": kind, "label": label, "connections": connections,
              "echo_connections": active, "echo_rate": rate, "duration_seconds": duration,
              "message_bytes": message_bytes, "message_type": message_type,
              "threads_per_server_process": threads, "problems": problems}
    try:
        ctx.log(f"{tag}: starting {servers.count} {kind} process(es), {threads} thread(s) each")
        servers.start()
        record["server_processes"] = servers.count
        record["server_argv"] = servers.argv_example()
        url = servers.url()
        procs, ips = ctx.load_plan(connections)
        ramp = connections / max(1000, min(ctx.rate, 10000)) + 30
        deadline = ramp + duration + 60
        args = ctx.load_args(url, connections, procs, ips, hold=0, deadline=deadline,
                             mode="open", echo_connections=active, echo_rate=rate,
                             duration=duration, message_bytes=message_bytes,
                             message_type=message_type) + servers.load_flags()
        ph = _phase(ctx, servers, tag, args, deadline + 60, problems)
        s = ph["load_summary"] or {}
        echo = s.get("echo", {})
        record.update(ph)
        record["result"] = {
            "sent": echo.get("sent"), "echoes": echo.get("received"),
            "messages_per_second": echo.get("messages_per_second"),
            "latency_ms": echo.get("latency_ms", {}),
            "handshake_latency_ms": s.get("handshake_latency_ms"),
            "connections_connected": s.get("connections", {}).get("connected"),
            "server_cpu_seconds": ph["server_cpu_seconds"],
            # Includes the ramp of the held connections, so it overstates the echo phase.
            "server_cpu_utilisation": ph["server_cpu_seconds"] / ph["wall_seconds"],
        }
        if echo.get("sent") and echo.get("received", 0) < echo["sent"]:
            problems.append(f"{tag}: {echo['sent'] - echo['received']} of {echo['sent']} "
                            "messages got no echo")
    except Exception as e:
        problems.append(f"{tag}: {type(e).__name__}: {e}")
    finally:
        for p in problems:
            ctx.problem(p)
        _stop(ctx, servers, tag, [record])  # adds a bad exit to both lists itself
    return [record]


def _rusage_cpu(ru):
    return ru["user_seconds"] + ru["system_seconds"] if ru else None


def _stop(ctx, servers, tag, records):
    servers.stop()
    bad = servers.bad_exits()
    if bad:
        msg = (f"{tag}: server processes exited badly on SIGTERM: "
               f"{[(b['pid'], b['exit_code']) for b in bad]} (last log lines: "
               f"{bad[0]['log_tail']!r})")
        ctx.problem(msg)
        for r in records:
            r.setdefault("problems", []).append(msg)
    for r in records:
        r["server_exit_codes"] = servers.exit_codes
