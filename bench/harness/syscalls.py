"""System calls a group of processes makes, counted with perf's syscall tracepoints.

The issue asks how close each server gets to one read and one write per echoed batch. CPU
seconds say how much an echo costs; these counts say what the server asked the kernel for.
A counted run is separate from the timed one: every traced call costs a little, and that
must not land in the echoes-per-CPU-second figures.

`perf stat -p` counts the threads that exist when it attaches and, through inherited
counters, every thread they create afterwards (the Go runtime starts threads on demand).
"""

import functools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

# What a server may call per message, grouped by purpose; anything else lands in "other".
KINDS = {
    "read": ("read", "readv", "recvfrom", "recvmsg", "recvmmsg"),
    "write": ("write", "writev", "sendto", "sendmsg", "sendmmsg"),
    "epoll_wait": ("epoll_wait", "epoll_pwait", "epoll_pwait2"),
    "epoll_ctl": ("epoll_ctl",),
    "futex": ("futex",),
    "sleep_or_yield": ("nanosleep", "clock_nanosleep", "sched_yield"),
}
TOTAL_EVENT = "raw_syscalls:sys_enter"


def events():
    return [TOTAL_EVENT] + [f"syscalls:sys_enter_{name}"
                            for names in KINDS.values() for name in names]


@functools.cache
def unavailable_reason():
    """None if perf can count syscall tracepoints here, else why not (probed once a run)."""
    if not shutil.which("perf"):
        return "perf is not installed (Debian package linux-perf)"
    probe = subprocess.run(["perf", "stat", "-x", ",", "-e", TOTAL_EVENT, "--", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"perf cannot count {TOTAL_EVENT}: {probe.stderr.strip()[-300:]}"
    return None


def _perf_event_fds(pid):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    count = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]":
                count += 1
        except OSError:
            pass
    return count


def parse_perf_csv(text):
    """{event name: count} from `perf stat -x ,` output; events perf could not count are
    left out (the kernel may lack a tracepoint, e.g. recvmmsg on an old kernel)."""
    counts = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        value, event = fields[0].strip(), fields[2].strip()
        if value.isdigit():
            counts[event] = int(value)
    return counts


def per_kind(counts):
    """Counts grouped by KINDS, plus "total" and "other" (total minus the grouped ones)."""
    out = {kind: sum(counts.get(f"syscalls:sys_enter_{n}", 0) for n in names)
           for kind, names in KINDS.items()}
    out["total"] = counts.get(TOTAL_EVENT, 0)
    out["other"] = max(0, out["total"] - sum(out[k] for k in KINDS))
    return out


class SyscallCount:
    """Context manager: `perf stat` attached to pids while the block runs.

    After the block, `.by_kind` holds the grouped counts (see per_kind) and `.raw` perf's
    own per-event counts.
    """

    def __init__(self, pids, logdir, name):
        self.pids = [int(p) for p in pids]
        self.out_path = Path(logdir) / f"{name}.perf-stat.csv"
        self.proc = None
        self.raw, self.by_kind = {}, {}

    def __enter__(self):
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        argv = ["perf", "stat", "-x", ",", "-o", str(self.out_path),
                "-p", ",".join(str(p) for p in self.pids)]
        for e in events():
            argv += ["-e", e]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self._wait_attached(len(events()))
        return self

    def _wait_attached(self, nevents, timeout=10.0):
        """Return once perf holds a counter for every event on every thread of the pids.

        perf takes tens of milliseconds to attach; work started before that would go
        uncounted (a load run's ramp and first echoes), so the caller waits for this.
        """
        threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in self.pids
                      if os.path.isdir(f"/proc/{p}/task"))
        want = nevents * max(1, threads)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if _perf_event_fds(self.proc.pid) >= want:
                time.sleep(0.05)  # perf enables the counters right after opening them all
                return
            time.sleep(0.01)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"perf stat did not attach to {self.pids} within {timeout:.0f}s "
                           f"(exit {self.proc.poll()})")

    def __exit__(self, *exc):
        # perf stat prints its counts when interrupted, as after Ctrl-C.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        text = self.out_path.read_text(errors="replace") if self.out_path.exists() else ""
        self.raw = parse_perf_csv(text)
        if TOTAL_EVENT not in self.raw:
            raise RuntimeError(f"perf stat counted nothing (exit {self.proc.returncode}): "
                               f"{err.decode(errors='replace').strip()[-300:]}")
        self.by_kind = per_kind(self.raw)
        return False
