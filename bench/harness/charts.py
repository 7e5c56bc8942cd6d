"""`charts`: PNG charts from the saved results (bench/results/*.json).

Every run record of every result file is a data point; when the same measurement was taken
more than once (same server, type and size), the newest run without warnings (other work
on the machine) wins, else the newest.
"""

import sys
from pathlib import Path

from . import report

COLORS = {"millionws": "#1f77b4", "baseline": "#d62728", "millionws-tls": "#2ca02c"}
NAMES = {"millionws": "MillionWS (C++)", "baseline": "Go + gorilla baseline",
         "millionws-tls": "MillionWS over TLS (wss://)"}


def _tag(run):
    """The prefix the harness puts on a run's log lines and warnings."""
    if run["type"] == "memory":
        return f"memory-{run['server']}-{run['connections_requested']}"
    if run["type"] == "throughput":
        return f"throughput-{run['server']}-{run['message_bytes']}"
    return f"{run['type']}-{run['server']}"


def _clean(run, doc):
    tag = _tag(run) + ":"
    return not any(w.startswith(tag) for w in doc.get("warnings", []) + run.get("warnings", []))


def _latest(docs, key):
    """{key(run): (run, doc)}: for each key the newest run measured on a quiet machine, or
    the newest run if every one has warnings. Runs with problems are never used."""
    best = {}
    for doc in sorted(docs, key=lambda d: d.get("date", "")):
        for run in doc.get("runs", []):
            if not run.get("result") or run.get("problems"):
                continue
            k = key(run)
            if k is None:
                continue
            if k not in best or _clean(run, doc) or not _clean(*best[k]):
                best[k] = (run, doc)
    return best


def _name(server):
    return NAMES.get(server, server)


def _footer(fig, pairs):
    """Machine, dates, and whether any plotted run was measured on a busy machine."""
    docs = [d for _, d in pairs]
    noisy = sum(1 for run, doc in pairs if not _clean(run, doc))
    machines = {(d["machine"].get("nproc"), d["machine"].get("mem_total_bytes"),
                 d["machine"].get("kernel")) for d in docs}
    text = "; ".join(f"{n} cores, {m / 2**30:.0f} GiB, Linux {k}" for n, m, k in machines)
    dates = sorted(d["date"][:10] for d in docs)
    note = (f"; {noisy} of {len(pairs)} plotted runs had other work on the machine"
            if noisy else "")
    fig.text(0.01, 0.01, f"loopback, {text}; results {dates[0]}..{dates[-1]}{note}",
             fontsize=7, color="gray")


def memory_chart(plt, docs, out):
    pts = _latest([d for d in docs], lambda r: (r["server"], r["connections_requested"])
                  if r["type"] == "memory" else None)
    if not pts:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    used = []
    for server in sorted({s for s, _ in pts}):
        rows = sorted((n, run) for (s, n), (run, doc) in pts.items() if s == server)
        used += [pair for (s, _), pair in pts.items() if s == server]
        xs = [n for n, _ in rows]
        rss = [run["result"]["rss_loaded_bytes"] / 2**20 for _, run in rows]
        per = [run["result"]["rss_bytes_per_connection"] for _, run in rows]
        anon = [run["result"]["rss_anon_bytes_per_connection"] for _, run in rows]
        slab = [run["result"].get("slab_bytes_per_connection_socket_adjusted")
                or run["result"]["slab_bytes_per_connection"] for _, run in rows]
        c = COLORS.get(server)
        ax1.plot(xs, rss, "o-", color=c, label=_name(server))
        procs = [run["server_processes"] for _, run in rows]
        for x, y, p, k in zip(xs, rss, per, procs):
            label = f"{p:,.0f} B/conn" + (f", {k} procs" if k > 1 else "")
            ax1.annotate(label, (x, y), textcoords="offset points", xytext=(4, -12),
                         fontsize=8, color=c)
        ax2.plot(xs, per, "o-", color=c, label=f"{_name(server)}: server RSS growth")
        ax2.plot(xs, anon, "s--", color=c, alpha=0.6,
                 label=f"{_name(server)}: server RssAnon growth")
        ax2.plot(xs, slab, "^:", color=c, alpha=0.6,
                 label=f"{_name(server)}: kernel slab growth (both ends)")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("concurrent idle WebSocket connections")
    ax1.set_ylabel("server RSS while holding them (MiB, all server processes)")
    ax1.text(0.99, 0.02, "each server process also has a fixed RSS\n"
             "(idle: MillionWS ~9 MiB, Go ~10 MiB)", transform=ax1.transAxes, ha="right",
             va="bottom", fontsize=7, color="gray")
    ax1.set_title("Server memory vs connections held")
    ax1.legend()
    ax2.set_ylabel("bytes per connection")
    ax2.set_title("Memory per connection (user space vs kernel)")
    ax2.legend(fontsize=7, loc="center right")
    _footer(fig, used)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def latency_chart(plt, docs, out):
    pts = _latest(docs, lambda r: (r["server"],) if r["type"] == "latency" else None)
    if not pts:
        return None
    keys = ["p50", "p90", "p99", "p999", "max"]
    labels = ["p50", "p90", "p99", "p99.9", "max"]
    servers = sorted(s for (s,) in pts)
    fig, ax = plt.subplots(figsize=(9, 5.2))
    width = 0.8 / len(servers)
    subtitle = []
    for i, server in enumerate(servers):
        run, _ = pts[(server,)]
        lat = run["result"]["latency_ms"]
        vals = [lat.get(k) or 0 for k in keys]
        xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(keys))]
        bars = ax.bar(xs, vals, width, color=COLORS.get(server), label=_name(server))
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:.2f}" if v < 10 else f"{v:.0f}", (b.get_x() + b.get_width() / 2, v),
                        ha="center", va="bottom", fontsize=8)
        subtitle.append(f"{run['echo_connections']:,} active of {run['connections']:,} held, "
                        f"{run['echo_rate']:,} msg/s, {run['message_bytes']} B")
    ax.set_xticks(range(len(keys)), labels)
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 3)  # room for the legend above the bars
    ax.set_ylabel("echo round-trip latency (ms, log scale)")
    ax.set_xlabel("percentile")
    ax.set_title("Open-loop echo latency\n" + "; ".join(sorted(set(subtitle))), fontsize=11)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(loc="upper left")
    _footer(fig, list(pts.values()))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _median_rounds(docs, pts):
    """For each (server, size) of pts: its newest document's median round, if that document
    measured several rounds (bench-compare --rounds), instead of its last round."""
    from .echo import median_result, rounds_of
    out = {}
    for k, (run, doc) in pts.items():
        rounds = rounds_of(doc.get("runs", []), *k)
        middle = median_result([r["result"] for r in rounds])
        out[k] = (next((r for r in rounds if r["result"] is middle), run), doc)
    return out


def throughput_chart(plt, docs, out):
    # Bars side by side should come from one run on the same machine state: a compare run
    # measured both servers in alternating rounds, so it wins over single-server echo runs.
    compared = [d for d in docs if d.get("kind") == "compare"
                and any(r["type"] == "throughput" for r in d.get("runs", []))]
    pts = _median_rounds(docs, _latest(compared or docs,
                                       lambda r: (r["server"], r["message_bytes"])
                                       if r["type"] == "throughput" else None))
    if not pts:
        return None
    servers = sorted({s for s, _ in pts})
    sizes = sorted({b for _, b in pts})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.2))
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(sizes))]
        per_cpu = [pts[(server, b)][0]["result"]["echoes_per_server_cpu_second"] or 0
                   if (server, b) in pts else 0 for b in sizes]
        per_s = [pts[(server, b)][0]["result"]["messages_per_second"] or 0
                 if (server, b) in pts else 0 for b in sizes]
        for ax, vals in ((ax1, per_cpu), (ax2, per_s)):
            bars = ax.bar(xs, vals, width, color=COLORS.get(server), label=_name(server))
            for b, v in zip(bars, vals):
                ax.annotate(f"{v / 1000:.0f}K", (b.get_x() + b.get_width() / 2, v), ha="center",
                            va="bottom", fontsize=8)
    conns = sorted({run["connections"] for run, _ in pts.values()})
    from matplotlib.ticker import FuncFormatter
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(sizes)), [f"{b:,} B" for b in sizes])
        ax.set_xlabel("message size")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # room for the legend above the bars
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(loc="upper right")
    ax1.set_ylabel("echoes per server CPU-second")
    ax1.set_title("Efficiency: echoes per server CPU-second\n(higher is better; median round of a run)")
    ax2.set_ylabel("echoes per second (server + load generator share 2 cores)")
    ax2.set_title(f"Closed-loop echo rate, {', '.join(f'{c:,}' for c in conns)} connections")
    _footer(fig, list(pts.values()))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def render(results_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("charts need matplotlib: apt-get install python3-matplotlib "
                         "(and run with /usr/bin/python3)")
    docs = report.load_all(results_dir)
    if not docs:
        raise SystemExit(f"no result files in {results_dir}")
    results_dir = Path(results_dir)
    written = []
    for fn, name in ((memory_chart, "memory.png"), (latency_chart, "latency.png"),
                     (throughput_chart, "throughput.png")):
        path = fn(plt, docs, results_dir / name)
        if path:
            written.append(str(path))
        else:
            print(f"charts: no data for {name}", file=sys.stderr)
    return written, docs
