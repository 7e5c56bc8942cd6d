"""Settings shared by every subcommand: where the binaries, results and run logs are, how the
load generator is driven, and how many connections one process may hold."""

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _first_existing(*paths):
    for p in paths:
        if p.is_file():
            return p
    return paths[0]


def default_millionws():
    return Path(os.environ.get("MILLIONWS_BIN", REPO / "build/release/millionws"))


def default_load():
    if "MILLIONWS_LOAD_BIN" in os.environ:
        return Path(os.environ["MILLIONWS_LOAD_BIN"])
    return _first_existing(REPO / "build/release/millionws-load")


def default_baseline():
    return Path(os.environ.get("MILLIONWS_BASELINE_BIN",
                               REPO / "build/bench-baseline/millionws-baseline"))


@dataclass
class Context:
    millionws: Path
    load: Path
    baseline: Path
    results: Path
    rundir: Path
    # Connections one server / load process is given at most. The descriptor hard limit is
    # 20000 here; SO_REUSEPORT spreads by hash, not by count, so leave room for the spread.
    server_per_process: int = 18000
    load_per_process: int = 18000
    # Connections per client source address. The default ephemeral range has 28,232 ports,
    # but connect() takes even ports first and falls back to a slow scan of the odd ones once
    # the ~14,100 even ports towards one destination are used up (the ramp drops from ~15K/s
    # to ~300/s there), so stay below half of the range.
    per_source_ip: int = 12000
    rate: int = 20000          # new connections per second, whole load run
    max_inflight: int = 2000   # handshakes in flight per load-generator process
    connect_timeout: float = 15.0
    verify_sample: int = 200
    bind: str = "127.0.0.1"
    quiet_wait: float = 60.0   # seconds to wait for other work to stop before a phase
    log_file: object = None
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def log(self, msg):
        line = f"[bench {time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        if self.log_file:
            print(line, file=self.log_file, flush=True)

    def problem(self, msg):
        self.problems.append(msg)
        self.log(f"PROBLEM: {msg}")

    def warning(self, msg):
        self.warnings.append(msg)
        self.log(f"WARNING: {msg}")

    def settle_machine(self):
        """Before a measurement: wait a little for other work on the machine to finish."""
        if self.quiet_wait <= 0:
            return None
        from . import system
        return round(system.wait_until_quiet(self.quiet_wait, self.log), 3)

    def binary(self, kind):
        return self.baseline if kind == "baseline" else self.millionws

    def server_processes(self, connections, per_process=None):
        return max(1, math.ceil(connections / (per_process or self.server_per_process)))

    def load_plan(self, connections):
        procs = max(1, math.ceil(connections / self.load_per_process))
        # The load generator gives each worker a disjoint slice of the addresses, as evenly
        # as it can: give every worker the same number so none exceeds per_source_ip.
        per_worker = math.ceil(connections / procs)
        return procs, procs * max(1, math.ceil(per_worker / self.per_source_ip))

    def load_args(self, url, connections, procs, ips, hold, deadline, mode="none", quiet=True,
                  **echo):
        args = ["--url", url, "--connections", connections, "--procs", procs,
                "--rate", self.rate, "--max-inflight", self.max_inflight, "--source-ips", ips,
                "--hold", hold, "--mode", mode, "--verify-sample", self.verify_sample,
                "--connect-timeout", self.connect_timeout, "--deadline", int(deadline)]
        if quiet:
            args.append("--quiet")
        for key, value in echo.items():
            args += ["--" + key.replace("_", "-"), value]
        return [str(a) for a in args]

    def check_binaries(self, kinds, need_load=True):
        missing = [str(self.binary(k)) for k in kinds if not self.binary(k).is_file()]
        if need_load and not self.load.is_file():
            missing.append(str(self.load))
        if missing:
            raise SystemExit("missing binaries: " + ", ".join(missing) +
                             "\n(build them: `just build`, `just bench-baseline`, or pass "
                             "--millionws/--load/--baseline)")
