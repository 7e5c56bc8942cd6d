"""Handshakes per server CPU-second (`tls`): one server process, N connections ramped by
the load generator and closed again, the server's utime+stime read around the run (as the
echo phases do). Plain upgrades, full TLS handshakes and resumed ones (--tls-resume: each
new connection offers the newest ticket) in the same run, so the TLS share is the
difference: every variant also pays accept, the HTTP upgrade and the close.
"""

from .echo import _phase, _stop
from .procs import ServerGroup


def run(ctx, kind, connections, threads=1, resume=False, label=""):
    variant = "resumed" if resume else ("full" if kind == "millionws-tls" else "plain")
    tag = f"handshakes-{variant}"
    servers = ServerGroup(kind, ctx.binary(kind), 1, threads, ctx.rundir / tag, bind=ctx.bind,
                          log=ctx.log)
    problems = []
    record = {"type": "handshakes", "server": kind, "variant": variant, "label": label,
              "connections": connections, "threads_per_server_process": threads,
              "problems": problems}
    try:
        servers.start()
        record["server_argv"] = servers.argv_example()
        deadline = connections / 500 + 60
        args = ctx.load_args(servers.url(), connections, 1, 1, hold=0, deadline=deadline)
        args[args.index("--verify-sample") + 1] = "0"
        args += servers.load_flags() + (["--tls-resume"] if resume else [])
        ph = _phase(ctx, servers, tag, args, deadline + 60, problems)
        record.update(ph)
        s = ph["load_summary"] or {}
        connected = s.get("connections", {}).get("connected") or 0
        tls = s.get("tls", {})
        cpu = ph["server_cpu_seconds"]
        record["result"] = {
            "handshakes": connected,
            "tls_full": tls.get("handshakes_full"), "tls_resumed": tls.get("handshakes_resumed"),
            "server_cpu_seconds": cpu,
            "handshakes_per_server_cpu_second": connected / cpu if cpu else None,
            "server_cpu_us_per_handshake": cpu / connected * 1e6 if connected else None,
            "server_user_cpu_seconds": ph["server_user_cpu_seconds"],
            "server_system_cpu_seconds": ph["server_system_cpu_seconds"],
            "ramp_rate_per_second": s.get("ramp", {}).get("rate_per_second"),
            "tls_handshake_latency_ms": tls.get("handshake_latency_ms"),
            "load_cpu_seconds": ph["load_cpu_seconds"],
        }
    except Exception as e:  # a failed measurement is a result too
        problems.append(f"{tag}: {type(e).__name__}: {e}")
    finally:
        for p in problems:
            ctx.problem(p)
        _stop(ctx, servers, tag, [record])
    return record
