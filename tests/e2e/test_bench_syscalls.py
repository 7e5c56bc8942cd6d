"""The echo path's system calls, counted by the benchmark harness against the real server.

`bench.py echo` runs millionws-load in closed loop and then a second run with perf counting
the servers' system calls (the code behind bench-compare's "system calls per echo"). With one
message in flight per connection the server should make exactly one recv and one send per
echo: a short read means the socket is drained, so no read that only returns EAGAIN. An
extra read or write per message would show here as 2.0.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONNECTIONS = 50


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf (linux-perf) is not installed")
def test_one_recv_and_one_send_per_echo(binary, load_binary, tmp_path):
    argv = ["/usr/bin/python3", str(REPO / "bench/bench.py"), "echo", "--skip-latency",
            "--connections", str(CONNECTIONS), "--sizes", "32,4096", "--duration", "1",
            "--syscall-seconds", "3", "--quiet-wait", "0", "--tune-sysctls", "never",
            "--millionws", binary, "--load", load_binary, "--results", str(tmp_path),
            "--rundir", str(tmp_path / "logs"), "--name", "syscalls"]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=180)
    doc = json.loads((tmp_path / "syscalls.json").read_text())
    runs = [r for r in doc["runs"] if r["type"] == "throughput"]
    assert [r["message_bytes"] for r in runs] == [32, 4096], proc.stderr[-2000:]
    # Calls that do not scale with messages: per connection the accept, the request, the
    # close and its last reads; the main thread's signal wait ten times a second. A call
    # made per message would add one per echo (thousands); this allows a few hundred.
    allowance = 5 * CONNECTIONS + 100
    for r in runs:
        assert not r["problems"], r["problems"]
        counted = r["syscall_count"]
        assert counted and counted["echoes"] > 10 * allowance, (counted, proc.stderr[-2000:])
        echoes, calls = counted["echoes"], counted["counts"]
        assert echoes <= calls["read"] <= echoes + allowance, (echoes, calls)
        assert echoes <= calls["write"] <= echoes + allowance, (echoes, calls)
        # Nothing but epoll_wait besides: no locks, no sleeps, no re-arming per message.
        assert calls["futex"] == 0 and calls["sleep_or_yield"] == 0, calls
        assert calls["epoll_ctl"] <= allowance, (echoes, calls)
        assert calls["other"] <= allowance, (echoes, calls)
    assert proc.returncode == 0, proc.stderr[-2000:]
