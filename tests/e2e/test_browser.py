"""A real browser against the real server: Debian's chromium-headless-shell loads a page
whose JavaScript opens ws://127.0.0.1:PORT/echo, sends text and binary (ArrayBuffer) messages
of 10 B, 70 KB and 1 MiB, checks every echoed byte, and sends 1 MiB + 1 to get close 1009.

The page comes from a small HTTP server in this test (port 0) and POSTs what it saw as JSON
back to it; the assertions are made here, on those observations. Each case uses a
connection of its own, so one failure cannot hide the others.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import tlsutil

BROWSER_TIMEOUT = 60  # seconds for the whole page run
MIB = 1024 * 1024
CASES = [("text", 10), ("binary", 10), ("text", 70 * 1000), ("binary", 70 * 1000),
         ("text", MIB), ("binary", MIB), ("text", MIB + 1), ("binary", MIB + 1)]

PAGE = r"""<!doctype html>
<meta charset="utf-8">
<title>MillionWS browser echo</title>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const url = (params.get("scheme") || "ws") + "://127.0.0.1:" + params.get("port") + "/echo";
const cases = JSON.parse(params.get("cases"));

// Exactly n bytes of UTF-8 with 1-, 2-, 3- and 4-byte characters, or n bytes of a
// pseudo-random sequence: contents a server bug would not echo by accident.
function textOf(n, seed) {
  const alphabet = ["a", "Z", " ", "é", "ж", "€", "漢", "𝄞"];
  const enc = new TextEncoder();
  let parts = [], bytes = 0, x = seed;
  while (bytes < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    let c = alphabet[(x >>> 16) % alphabet.length];
    const len = enc.encode(c).length;
    if (bytes + len > n) c = "x";
    parts.push(c);
    bytes += enc.encode(c).length;
  }
  return parts.join("");
}
function bytesOf(n, seed) {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function runCase(kind, size, index) {
  return new Promise((resolve) => {
    const r = {kind, size, opened: false, echoed: false, received_bytes: null,
               first_difference: null, received_kind: null, extensions: null, protocol: null,
               close_code: null, close_reason: null, was_clean: null, error: null};
    const sent = kind === "text" ? new TextEncoder().encode(textOf(size, index + 1))
                                 : bytesOf(size, index + 1);
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => { r.error = "timeout"; resolve(r); }, 20000);
    ws.onopen = () => {
      r.opened = true;
      r.extensions = ws.extensions;
      r.protocol = ws.protocol;
      ws.send(kind === "text" ? new TextDecoder().decode(sent) : sent.buffer);
    };
    ws.onmessage = (e) => {
      r.echoed = true;
      r.received_kind = typeof e.data === "string" ? "text" : "binary";
      const got = typeof e.data === "string" ? new TextEncoder().encode(e.data)
                                             : new Uint8Array(e.data);
      r.received_bytes = got.length;
      r.first_difference = firstDifference(sent, got);
      ws.close(1000, "done");
    };
    ws.onerror = () => { r.error = r.error || "error event"; };
    ws.onclose = (e) => {
      clearTimeout(timer);
      r.close_code = e.code;
      r.close_reason = e.reason;
      r.was_clean = e.wasClean;
      resolve(r);
    };
  });
}

async function main() {
  const results = [];
  try {
    for (let i = 0; i < cases.length; i++) results.push(await runCase(cases[i][0], cases[i][1], i));
  } catch (err) {
    results.push({error: String(err)});
  }
  await fetch("/result", {method: "POST", headers: {"Content-Type": "application/json"},
                          body: JSON.stringify({userAgent: navigator.userAgent, results})});
}
window.onerror = (msg) => {
  fetch("/result", {method: "POST", body: JSON.stringify({results: [{error: String(msg)}]})});
};
main();
</script>
"""


def _browser_binary():
    # The Debian wrapper /usr/bin/chromium-headless-shell runs this without exec.
    for cand in ("/usr/lib/chromium/chromium-headless-shell", shutil.which("chromium-headless-shell")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    pytest.fail("chromium-headless-shell not found: apt-get install chromium-headless-shell "
                "(tools/setup.sh installs it)", pytrace=False)


class _PageServer:
    """Serves PAGE at / and takes the page's report at POST /result."""

    def __init__(self):
        self.report = None
        self.done = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = PAGE.encode()
                self.send_response(200 if self.path.startswith("/?") else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/result" and not outer.done.is_set():
                    outer.report = json.loads(data)
                    outer.done.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _run_page(ws_port, log_path, scheme="ws", browser_flags=()):
    """Runs the page in a fresh headless Chromium against ws_port; returns its report."""
    page = _PageServer()
    profile = tempfile.mkdtemp(prefix="mws-chromium-")
    url = "http://127.0.0.1:%d/?%s" % (
        page.port, urllib.parse.urlencode({"port": ws_port, "cases": json.dumps(CASES),
                                           "scheme": scheme}))
    args = [_browser_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + profile, *browser_flags, url]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while not page.done.wait(0.2):
            if proc.poll() is not None:
                pytest.fail("chromium exited with %r before the page reported:\n%s"
                            % (proc.returncode, Path(log_path).read_text(errors="replace")[-4000:]),
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("no report from the page within %d s:\n%s"
                            % (BROWSER_TIMEOUT, Path(log_path).read_text(errors="replace")[-4000:]),
                            pytrace=False)
        return page.report
    finally:
        # Chromium's renderer and utility processes are in the session started for it.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        page.close()
        shutil.rmtree(profile, ignore_errors=True)


def _check(report, limit, clean_1009_up_to=None):
    """Every message up to `limit` comes back byte for byte; a larger one gets 1009, with
    wasClean for those up to `clean_1009_up_to` bytes (default: all)."""
    problems = []
    results = report.get("results", [])
    if len(results) != len(CASES):
        return ["expected %d results, got %r" % (len(CASES), results)]
    for (kind, size), r in zip(CASES, results):
        name = "%s %d B" % (kind, size)
        if not r.get("opened") or r.get("error"):
            problems.append("%s: %r" % (name, r))
            continue
        if r["extensions"] or r["protocol"]:
            problems.append("%s: negotiated %r / %r" % (name, r["extensions"], r["protocol"]))
        if size <= limit:
            if not (r["echoed"] and r["received_kind"] == kind and r["received_bytes"] == size
                    and r["first_difference"] == -1):
                problems.append("%s: echo differs: %r" % (name, r))
            elif not (r["close_code"] == 1000 and r["was_clean"]):
                problems.append("%s: no clean close after the echo: %r" % (name, r))
        elif r["echoed"] or r["close_code"] != 1009:
            problems.append("%s: expected close 1009 without an echo: %r" % (name, r))
        elif not r["was_clean"] and (clean_1009_up_to is None or size <= clean_1009_up_to):
            problems.append("%s: expected a clean close 1009: %r" % (name, r))
    return problems


def test_chromium_echo_and_limit(server_factory, logdir):
    s = server_factory()  # the default --max-message-bytes, 1 MiB
    report = _run_page(s.port, Path(logdir) / "chromium-default.log")
    problems = _check(report, MIB)
    assert not problems, "\n".join(problems) + "\nuser agent: %s" % report.get("userAgent")
    assert "HeadlessChrome" in report.get("userAgent", ""), report.get("userAgent")


def test_chromium_sees_a_lower_limit(server_factory, logdir):
    # The same page against a 64 KiB limit: the 70 KB and 1 MiB messages must now end in 1009,
    # so the page's checks depend on what the server does, not only on what was sent.
    # wasClean is required for the 70 KB case only: a 1 MiB send is failed after its first 64 KiB
    # while Chromium still has most of it queued, and Chromium, whose own Close reply waits
    # behind that data, sometimes sees the server's FIN first and reports wasClean false
    # (measured: 3 of 7 runs under load; the close code is 1009 every time).
    s = server_factory("--max-message-bytes", "64KiB")
    report = _run_page(s.port, Path(logdir) / "chromium-64k.log")
    problems = _check(report, 64 * 1024, clean_1009_up_to=MIB // 2)
    assert not problems, "\n".join(problems)


def test_chromium_echo_over_wss(server_factory, logdir, tmp_path):
    # The same page over wss:// (issue 15), the self-signed test certificate accepted with
    # --ignore-certificate-errors: Chromium's TLS stack (BoringSSL) against the server's.
    cert, key = tlsutil.make_pair(tmp_path, "browser")
    s = tlsutil.start_tls_server(server_factory, cert, key)
    report = _run_page(s.tls_port, Path(logdir) / "chromium-wss.log", scheme="wss",
                       browser_flags=["--ignore-certificate-errors"])
    problems = _check(report, MIB)
    assert not problems, "\n".join(problems) + "\nuser agent: %s" % report.get("userAgent")
