#!/usr/bin/python3
"""Merges the JSON summaries of a sharded millionws-load run (the pods of deploy/load's Indexed
Job) into one summary of the whole run.

    deploy/load/gather.py RESULTS/pod-*.log > RESULTS/merged.json

Each input is one pod's output (`kubectl logs`: stderr lines may come before the summary);
its last line that is a JSON object with a "shard" key is the summary, which must carry raw
histograms (`--histograms`). What the merge does:

  connections      requested, connected, failed (and by reason), server_closed, open_at_end:
                   summed
  latencies        handshake and echo histograms added bucket by bucket, then percentiles
                   taken from the sum exactly as millionws-load takes them (percentiles of
                   parts cannot be averaged into the percentile of the whole)
  echo, verify     counts summed; messages_per_second is the sum of the pods' rates (their
                   echo phases run side by side)
  ramp             from the earliest pod start to the last pod's last connection resolved
  start            the requested start time, the spread of the actual starts and the latest
                   pod's lateness: pods that start late do not ramp together
  shards           one row per pod (index, host, connected, failed, late_seconds, echo p99)

Exit status: 0 when every shard 0..N-1 reported once and the run was clean (no failed
connection, no verify error); 1 when the run had failures; 2 when the input is unusable
(missing or repeated shards, summaries of different runs, no histograms).
"""

import argparse
import json
import math
import sys

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999))


class InputError(Exception):
    pass


def round3(value):
    """std::round(v * 1000) / 1000 as millionws-load does it: halves away from zero (Python's
    round() would round them to even)."""
    scaled = value * 1000.0
    whole = math.floor(scaled)
    return (whole + (1 if scaled - whole >= 0.5 else 0)) / 1000.0


class Histogram:
    """millionws-load's Histogram (load/src/histogram.cpp): values below 2^sub_bits exact, each
    power of two above split into 2^sub_bits linear buckets."""

    def __init__(self, sub_bits):
        self.sub_bits = sub_bits
        self.buckets = {}
        self.count = 0
        self.min = None
        self.max = 0

    def add(self, encoded):
        """Adds a {"min", "max", "buckets": [[index, count], ...]} histogram."""
        n = 0
        for index, count in encoded["buckets"]:
            self.buckets[index] = self.buckets.get(index, 0) + count
            n += count
        if n:
            self.count += n
            self.min = encoded["min"] if self.min is None else min(self.min, encoded["min"])
            self.max = max(self.max, encoded["max"])

    def bucket_low(self, index):
        sub = 1 << self.sub_bits
        if index < sub:
            return index
        return (sub + index % sub) << (index // sub - 1)

    def bucket_width(self, index):
        sub = 1 << self.sub_bits
        return 1 if index < sub else 1 << (index // sub - 1)

    def percentile(self, q):
        """Histogram::percentile: the midpoint of the bucket holding the ceil(q * count)-th
        smallest value, clamped to [min, max]."""
        if self.count == 0:
            return 0
        if q >= 1.0:
            return self.max
        rank = min(max(math.ceil(max(q, 0.0) * self.count), 1), self.count)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                mid = self.bucket_low(index) + (self.bucket_width(index) - 1) // 2
                return min(max(mid, self.min), self.max)
        return self.max

    def summary_ms(self):
        out = {name: round3(self.percentile(q) / 1e6) for name, q in PERCENTILES}
        out["max"] = round3(self.max / 1e6)
        return out


def find_summary(text, source):
    """The last line of a pod's output that is a millionws-load summary."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "shard" in obj and "connections" in obj:
            return obj
    raise InputError("%s: no millionws-load summary (a JSON line with \"shard\")" % source)


def check_shards(summaries):
    counts = {s["shard"]["count"] for s in summaries}
    if len(counts) != 1:
        raise InputError("summaries of different runs: shard counts %s" % sorted(counts))
    (count,) = counts
    for key in ("target", "procs"):
        values = {json.dumps(s[key]) for s in summaries}
        if len(values) != 1:
            raise InputError("summaries of different runs: %s differs %s" % (key, sorted(values)))
    totals = {s["shard"]["connections_total"] for s in summaries}
    if len(totals) != 1:
        raise InputError("summaries of different runs: connections_total %s" % sorted(totals))
    indices = sorted(s["shard"]["index"] for s in summaries)
    repeated = sorted({i for i in indices if indices.count(i) > 1})
    missing = sorted(set(range(count)) - set(indices))
    if repeated or missing:
        raise InputError("shards of %d: missing %s, repeated %s" % (count, missing, repeated))
    for s in summaries:
        if "histograms" not in s:
            raise InputError("shard %d has no histograms (run millionws-load with --histograms)"
                             % s["shard"]["index"])
    return count


def merge(summaries):
    count = check_shards(summaries)
    summaries = sorted(summaries, key=lambda s: s["shard"]["index"])
    sub_bits = {s["histograms"]["sub_bits"] for s in summaries}
    if len(sub_bits) != 1:
        raise InputError("histograms with different layouts: sub_bits %s" % sorted(sub_bits))
    handshake, echo_latency = Histogram(*sub_bits), Histogram(*sub_bits)

    conns = {k: 0 for k in ("requested", "connected", "failed", "server_closed", "open_at_end")}
    reasons = {}
    echo = {k: 0 for k in ("connections", "sent", "received", "verify_errors")}
    echo_rate = 0.0
    echo_seconds = 0.0
    verify = {"requested": 0, "ok": 0, "failed": 0}
    rows = []
    for s in summaries:
        for key in conns:
            conns[key] += s["connections"][key]
        for reason, n in s["connections"]["failed_by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + n
        for key in echo:
            echo[key] += s["echo"][key]
        echo_rate += s["echo"]["messages_per_second"]
        echo_seconds = max(echo_seconds, s["echo"]["duration_seconds"])
        for key in verify:
            verify[key] += s["verify_sample"][key]
        handshake.add(s["histograms"]["handshake"])
        echo_latency.add(s["histograms"]["echo_latency"])
        rows.append({"index": s["shard"]["index"], "host": s.get("host", ""),
                     "connected": s["connections"]["connected"],
                     "failed": s["connections"]["failed"],
                     "late_seconds": s["start"]["late_seconds"],
                     "echo_p99_ms": s["echo"]["latency_ms"]["p99"]})

    starts = [s["start"]["actual_unix"] for s in summaries]
    ramp_end = max(s["start"]["actual_unix"] + s["ramp"]["seconds"] for s in summaries)
    ramp_seconds = ramp_end - min(starts)
    first = summaries[0]
    return {
        "target": first["target"],
        "shards": count,
        "procs_per_shard": first["procs"],
        "connections": {**conns, "failed_by_reason": dict(sorted(reasons.items()))},
        "start": {"requested_unix": first["start"]["requested_unix"],
                  "first_unix": round3(min(starts)), "last_unix": round3(max(starts)),
                  "spread_seconds": round3(max(starts) - min(starts)),
                  "latest_late_seconds": max(s["start"]["late_seconds"] for s in summaries)},
        "ramp": {"seconds": round3(ramp_seconds),
                 "rate_per_second": round3(conns["connected"] / ramp_seconds)
                 if ramp_seconds > 0 else 0.0},
        "handshake_latency_ms": handshake.summary_ms(),
        "echo": {"mode": first["echo"]["mode"], **echo,
                 "message_bytes": first["echo"]["message_bytes"],
                 "duration_seconds": echo_seconds,
                 "messages_per_second": round3(echo_rate),
                 "latency_ms": echo_latency.summary_ms()},
        "verify_sample": verify,
        "histograms": {"handshake_count": handshake.count, "echo_latency_count":
                       echo_latency.count},
        "per_shard": rows,
    }


def clean(merged):
    return (merged["connections"]["failed"] == 0 and merged["echo"]["verify_errors"] == 0
            and merged["verify_sample"]["failed"] == 0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", help="one file per pod: its output (kubectl logs)")
    args = p.parse_args(argv)
    try:
        summaries = []
        for path in args.logs:
            with open(path, errors="replace") as f:
                summaries.append(find_summary(f.read(), path))
        merged = merge(summaries)
    except (InputError, OSError, KeyError, TypeError) as e:
        print("gather.py: %s" % (e if isinstance(e, (InputError, OSError))
                                 else "malformed summary: %r" % e), file=sys.stderr)
        return 2
    print(json.dumps(merged, indent=1))
    return 0 if clean(merged) else 1


if __name__ == "__main__":
    sys.exit(main())
