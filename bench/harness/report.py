"""Result files and human tables.

Every subcommand writes one JSON document to bench/results/ with what was run (exact
command line, settings, binaries), where (machine facts, commit) and what came out (a list
of run records whose "type" is memory, throughput or latency). charts.py reads them back.
"""

import datetime
import json
import shlex
import sys
from pathlib import Path

from . import system

SCHEMA = 1


def binary_info(path):
    """Which build was measured: path, size, modification time and a content hash."""
    import hashlib
    path = Path(path)
    try:
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return {"path": str(path), "missing": True}
    mtime = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
    return {"path": str(path), "bytes": st.st_size, "sha256_16": digest,
            "modified": mtime.isoformat(timespec="seconds")}


def document(kind, repo, settings, runs, problems, binaries=None):
    return {
        "schema": SCHEMA,
        "kind": kind,
        "command": shlex.join([sys.argv[0], *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": system.machine_info(),
        "git": system.git_info(repo),
        "settings": settings,
        "binaries": {k: binary_info(v) for k, v in (binaries or {}).items()},
        "ok": not problems,
        "problems": problems,
        "runs": runs,
    }


def write(doc, results_dir, name):
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return path


def load_all(results_dir):
    docs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"charts: skipping {path}: {e}", file=sys.stderr)
            continue
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
            doc["_path"] = str(path)
            docs.append(doc)
    return docs


# --------------------------------------------------------------------------- formatting

def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def fmt_num(x, digits=0):
    if x is None:
        return "-"
    if isinstance(x, float) and digits:
        return f"{x:,.{digits}f}"
    return f"{x:,.0f}"


def fmt_ms(x):
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def table(headers, rows, out=sys.stdout):
    """A plain fixed-width table; first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(r))
    print(line(cells[0]), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in cells[1:]:
        print(line(r), file=out)
    print(file=out)


def memory_table(runs, out=sys.stdout):
    rows = []
    for r in runs:
        m = r.get("result") or {}
        rows.append([
            r["server"], fmt_num(r["connections_requested"]), fmt_num(m.get("connections_held")),
            r["server_processes"], fmt_num(m.get("rss_bytes_per_connection"), 1),
            fmt_num(m.get("rss_anon_bytes_per_connection"), 1),
            fmt_num(m.get("slab_bytes_per_connection"), 1),
            fmt_num(m.get("slab_bytes_per_connection_socket_adjusted"), 1),
            fmt_bytes(m.get("rss_loaded_bytes")),
            m.get("threads_per_process", "-"), m.get("fds_per_process_max", "-"),
            fmt_num(m.get("ramp_rate_per_second")), m.get("verify", "-"),
        ])
    table(["server", "requested", "held", "procs", "RSS B/conn", "RssAnon B/conn",
           "slab B/conn", "slab B/conn adj", "server RSS", "thr/proc", "max fds/proc",
           "ramp conn/s", "verify"],
          rows, out)


def throughput_table(runs, out=sys.stdout):
    rows = []
    for r in runs:
        m = r.get("result") or {}
        rows.append([
            r["server"], r["message_bytes"], r["connections"], r.get("round") or "-",
            fmt_num(m.get("echoes")), fmt_num(m.get("messages_per_second")),
            fmt_num(m.get("server_cpu_seconds"), 2), fmt_num(m.get("server_cpu_utilisation"), 2),
            fmt_num(m.get("echoes_per_server_cpu_second")),
            fmt_ms(m.get("latency_ms", {}).get("p99")), _other_cores(r),
            *_syscall_columns(m),
        ])
    table(["server", "msg B", "conns", "round", "echoes", "echoes/s", "server CPU s", "server cores",
           "echoes/server CPU-s", "p99 ms", "other cores", "reads/echo", "writes/echo",
           "other calls/echo", "echoes/epoll_wait"], rows, out)


def _syscall_columns(result):
    """The servers' system calls per echo from the counted run ("-" if none was made)."""
    per = result.get("syscalls_per_echo")
    if not per:
        return ["-"] * 4
    other = per["total"] - per["read"] - per["write"] - per["epoll_wait"]
    return [fmt_num(per["read"], 2), fmt_num(per["write"], 2), fmt_num(other, 2),
            fmt_num(result.get("echoes_per_epoll_wait"), 1)]


def _other_cores(r):
    """CPU used by processes outside the run, in cores (0 on a quiet machine)."""
    if r.get("other_cpu_seconds") is None or not r.get("wall_seconds"):
        return "-"
    return f"{r['other_cpu_seconds'] / r['wall_seconds']:.2f}"


def latency_table(runs, out=sys.stdout):
    rows = []
    for r in runs:
        m = r.get("result") or {}
        lat = m.get("latency_ms", {})
        rows.append([
            r["server"], fmt_num(r["connections"]), fmt_num(r["echo_connections"]),
            fmt_num(r["echo_rate"]), fmt_num(m.get("messages_per_second")),
            *(fmt_ms(lat.get(k)) for k in ("p50", "p90", "p99", "p999", "max")),
            fmt_num(m.get("server_cpu_utilisation"), 2), _other_cores(r),
        ])
    table(["server", "held", "active", "target msg/s", "echoes/s", "p50 ms", "p90 ms", "p99 ms",
           "p99.9 ms", "max ms", "server cores", "other cores"], rows, out)


def print_runs(runs, out=sys.stdout):
    for kind, fn in (("memory", memory_table), ("throughput", throughput_table),
                     ("latency", latency_table)):
        sel = [r for r in runs if r["type"] == kind]
        if sel:
            print(f"== {kind}", file=out)
            fn(sel, out)
