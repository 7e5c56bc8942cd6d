"""What the harness reads from the kernel: /proc for processes, memory and sockets,
machine facts for the result files, and the sysctls a large run raises and then restores.

Readers never raise for a process that has just exited: they return None and let the
caller decide. Sysctl changes are written to a restore file before they are applied, so a
run killed with SIGKILL can still be undone with `bench.py restore-sysctls`.
"""

import json
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
RESTORE_FILE = Path("/tmp/millionws-bench-sysctl-restore.json")


# --------------------------------------------------------------------------- processes

def proc_status(pid):
    """VmRSS, RssAnon, RssFile, RssShmem (bytes) and Threads of one process, or None."""
    want = {"VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"}
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in want:
                    fields = rest.split()
                    out[key] = int(fields[0]) * (1024 if key != "Threads" else 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out


def proc_cpu_split(pid):
    """(utime, stime) of one process (its threads included) in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may contain spaces and parentheses: fields start after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_seconds(pid):
    """utime + stime of one process (its threads included) in seconds, or None."""
    split = proc_cpu_split(pid)
    return sum(split) if split else None


def proc_fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_children(pid):
    """All descendants of pid (via /proc/PID/task/TID/children), pid not included."""
    found, todo = [], [pid]
    for _ in range(10000):  # bounded: a process tree of the load generator is small
        if not todo:
            break
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except (FileNotFoundError, ProcessLookupError):
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def sample_processes(pids, with_fds=True):
    """Per-process and summed RSS/RssAnon/threads/descriptors/CPU of a group of processes."""
    per = []
    for pid in pids:
        st = proc_status(pid)
        if st is None:
            per.append({"pid": pid, "alive": False})
            continue
        rec = {"pid": pid, "alive": True, "rss": st.get("VmRSS", 0),
               "rss_anon": st.get("RssAnon", 0), "rss_file": st.get("RssFile", 0),
               "threads": st.get("Threads", 0), "cpu_seconds": proc_cpu_seconds(pid)}
        if with_fds:
            rec["fds"] = proc_fd_count(pid)
        per.append(rec)
    alive = [p for p in per if p["alive"]]
    total = {
        "processes": len(pids),
        "alive": len(alive),
        "rss": sum(p["rss"] for p in alive),
        "rss_anon": sum(p["rss_anon"] for p in alive),
        "rss_file": sum(p["rss_file"] for p in alive),
        "threads": sum(p["threads"] for p in alive),
        "cpu_seconds": sum(p["cpu_seconds"] or 0 for p in alive),
    }
    if with_fds:
        total["fds"] = sum(p["fds"] or 0 for p in alive)
    return {"time": time.time(), "total": total, "per_process": per}


def cpu_seconds_of(pids):
    return sum(proc_cpu_seconds(p) or 0 for p in pids)


def cpu_split_of(pids):
    """(user, system) CPU-seconds of these processes together."""
    splits = [proc_cpu_split(p) or (0.0, 0.0) for p in pids]
    return sum(u for u, _ in splits), sum(k for _, k in splits)


def machine_busy_seconds():
    """CPU-seconds all CPUs spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def wait_until_quiet(max_wait, log, threshold=0.25, window=3.0):
    """Wait (at most max_wait seconds) for a window in which the machine's other work uses
    under `threshold` cores; returns the cores in use during the last window."""
    deadline = time.monotonic() + max_wait
    said = False
    while True:
        b0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(window)
        cores = (machine_busy_seconds() - b0) / (time.monotonic() - t0)
        if cores < threshold or time.monotonic() >= deadline:
            if said or cores >= threshold:
                log(f"machine busy at {cores:.2f} cores; going ahead")
            return cores
        if not said:
            log(f"machine busy at {cores:.2f} cores (other people's work?); waiting up to "
                f"{max_wait:.0f}s for it to calm down")
            said = True


def fd_total(pids):
    return sum(proc_fd_count(p) or 0 for p in pids)


# --------------------------------------------------------------------------- kernel

def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            fields = rest.split()
            if fields:
                out[key] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return {k: out.get(k) for k in ("MemTotal", "MemAvailable", "MemFree", "Slab",
                                      "SReclaimable", "SUnreclaim")}


def sockstat():
    """/proc/net/sockstat as {"sockets": {"used": n}, "TCP": {"inuse": n, "mem": pages...}}."""
    out = {}
    with open("/proc/net/sockstat") as f:
        for line in f:
            name, _, rest = line.partition(":")
            fields = rest.split()
            out[name.strip()] = {fields[i]: int(fields[i + 1])
                                 for i in range(0, len(fields) - 1, 2)}
    return out


def tcp_established():
    """TCP connections in ESTABLISHED or CLOSE_WAIT on this machine (/proc/net/snmp
    CurrEstab): both ends of a loopback connection count. Reading it touches no per-socket
    kernel objects, unlike listing /proc/PID/fd (which creates a dentry and an inode per
    descriptor and would show up in the slab figures)."""
    with open("/proc/net/snmp") as f:
        lines = [line.split() for line in f if line.startswith("Tcp:")]
    header, values = lines[0], lines[1]
    return int(values[header.index("CurrEstab")])


def slabinfo():
    """Bytes held per slab cache (num_objs * objsize), or {} if /proc/slabinfo is unreadable."""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith(("slabinfo", "#")):
                    continue
                fields = line.split()
                out[fields[0]] = int(fields[2]) * int(fields[3])
    except (PermissionError, FileNotFoundError):
        return {}
    return out


def conntrack_count():
    return read_sysctl("net.netfilter.nf_conntrack_count")


def kernel_sample():
    return {"time": time.time(), "meminfo": meminfo(), "sockstat": sockstat(),
            "slabinfo": slabinfo(), "conntrack_count": conntrack_count()}


def slab_growth(before, after, min_bytes):
    """Slab caches that grew by at least min_bytes between two kernel samples, largest first."""
    b, a = before.get("slabinfo", {}), after.get("slabinfo", {})
    grew = {k: a[k] - b.get(k, 0) for k in a if a[k] - b.get(k, 0) >= min_bytes}
    return dict(sorted(grew.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------- machine

def machine_info():
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "hostname": platform.node(),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_bytes": meminfo()["MemTotal"],
        "kernel": platform.release(),
        "os": _os_release(),
        "nofile_hard_limit": hard,
        "python": platform.python_version(),
    }


def _os_release():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def git_info(repo):
    """Commit and dirty flag of the tree being measured (read-only git commands)."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    # The results the harness itself writes (bench/results/) do not make the measured code
    # dirty; anything else changed since the commit does.
    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                              ":(exclude)bench/results"))}


def raise_nofile():
    """Raise this process's soft descriptor limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --------------------------------------------------------------------------- sysctls

def _sysctl_path(name):
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctl(name):
    """The value as an int, a string for multi-field values, or None if the knob is absent."""
    try:
        text = _sysctl_path(name).read_text().strip()
    except (FileNotFoundError, PermissionError):
        return None
    fields = text.split()
    if len(fields) == 1 and fields[0].lstrip("-").isdigit():
        return int(fields[0])
    return " ".join(fields)


def write_sysctl(name, value):
    _sysctl_path(name).write_text(f"{value}\n")


def large_run_sysctls(connections):
    """What a run of this many connections needs beyond Debian's defaults (see the notes)."""
    want = {
        "net.ipv4.ip_local_port_range": "1024 65535",
        "net.core.somaxconn": 65535,
        "net.ipv4.tcp_max_syn_backlog": 65535,
        # Loopback connections are tracked once each; TIME_WAIT entries of an earlier run
        # linger for minutes, so leave room for two runs.
        "net.netfilter.nf_conntrack_max": max(2_000_000, 2 * connections + 200_000),
        # Both ends of every connection are open files on this machine.
        "fs.file-max": 2 * connections + 500_000,
    }
    return want


def _is_enough(name, current, wanted):
    if current is None:
        return True  # knob absent (e.g. conntrack not loaded): nothing to raise
    if name == "net.ipv4.ip_local_port_range":
        lo, hi = (int(x) for x in str(current).split())
        wlo, whi = (int(x) for x in str(wanted).split())
        return lo <= wlo and hi >= whi
    return int(current) >= int(wanted)


class SysctlTuning:
    """Context manager: raise the given sysctls (never lower them), restore on exit.

    The previous values go to RESTORE_FILE before anything is written, and the file is
    removed once they are back, so `bench.py restore-sysctls` can repair a killed run.
    """

    def __init__(self, wanted, log):
        self.wanted = wanted
        self.log = log
        self.saved = {}

    def __enter__(self):
        check_no_pending_restore()
        changes = {}
        for name, value in self.wanted.items():
            current = read_sysctl(name)
            if not _is_enough(name, current, value):
                changes[name] = (current, value)
        if not changes:
            return self
        self.saved = {name: cur for name, (cur, _) in changes.items()}
        RESTORE_FILE.write_text(json.dumps(self.saved, indent=1))
        for name, (cur, value) in changes.items():
            self.log(f"sysctl {name}: {cur} -> {value}")
            write_sysctl(name, value)
        return self

    def __exit__(self, *exc):
        restore(self.saved, self.log)
        return False

    def applied(self):
        return {name: {"before": cur, "during": read_sysctl(name)} for name, cur in
                self.saved.items()}


def restore(saved, log):
    failed = []
    for name, value in saved.items():
        try:
            write_sysctl(name, value)
            log(f"sysctl {name}: restored {value}")
        except OSError as e:
            failed.append(name)
            log(f"sysctl {name}: could not restore {value}: {e}")
    if saved and not failed:
        RESTORE_FILE.unlink(missing_ok=True)


def check_no_pending_restore():
    if RESTORE_FILE.exists():
        raise RuntimeError(f"{RESTORE_FILE} exists: an earlier run did not restore its sysctls. "
                           "Run `bench/bench.py restore-sysctls` first.")


def restore_from_file(log):
    if not RESTORE_FILE.exists():
        log("nothing to restore")
        return
    restore(json.loads(RESTORE_FILE.read_text()), log)
