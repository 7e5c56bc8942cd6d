#!/usr/bin/env bash
# `just image-check`: builds the repository's Dockerfile in a private Docker engine and proves
# the image works: its configuration (numeric non-root user, exec-form entrypoint, ports,
# MILLIONWS_* environment), its contents (both binaries run, no compiler, no headers), and the
# running server (health on both ports, a WebSocket echo byte for byte, the load generator
# from the image, /metrics through promtool, a non-root process, `docker stop` draining with
# 1001 and exiting 0 inside the default 10 s). Idempotent; leaves nothing running: the
# container and the engine it started are stopped by id and pid on every exit path. The
# engine's image store and the debootstrap'd base stay cached for the next run.
#
# Environment: MWS_IMAGE_CONTEXT (build context, default the repository root), MWS_DOCKERFILE
# (default the repository's), MWS_IMAGE_TAG (default millionws:check), MILLIONWS_CACHE_DIR
# (default /var/cache/millionws).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/container/lib.sh
source "$repo/tools/container/lib.sh"

context=${MWS_IMAGE_CONTEXT:-$repo}
dockerfile=${MWS_DOCKERFILE:-$repo/Dockerfile}
image=${MWS_IMAGE_TAG:-millionws:check}

[ "$(id -u)" -eq 0 ] || die "needs root: it starts its own dockerd"
for tool in dockerd "$MWS_DOCKER_BIN" promtool python3 curl flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (bash tools/setup.sh installs it)"
done

mkdir -p "$MWS_CACHE_DIR"
# One check at a time per cache: two runs would share (and stop) the same engine.
exec 9>"$MWS_CACHE_DIR/engine.lock"
flock -w 1800 9 || die "another image-check still holds $MWS_CACHE_DIR/engine.lock after 30 min"

container=""
hold_pid=""
work=$(mktemp -d)
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$hold_pid" ] && kill -0 "$hold_pid" 2>/dev/null; then kill "$hold_pid" || true; fi
  if [ -n "$container" ]; then mws_docker rm -f "$container" >/dev/null 2>&1 || true; fi
  engine_stop
  rm -rf "$work"
  if [ "$status" -eq 0 ]; then log "PASS"; else log "FAIL (exit $status)"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

engine_start
base_image_ensure

# --- build ----------------------------------------------------------------------------------
log "building $image from $context (log: $MWS_CACHE_DIR/image-build.log)"
build_start=$(date +%s)
# --network host: the engine has no bridge, so RUN steps (apt-get) use the host's network.
if ! DOCKER_BUILDKIT=1 mws_docker build --network host --progress plain \
  -f "$dockerfile" -t "$image" "$context" >"$MWS_CACHE_DIR/image-build.log" 2>&1; then
  tail -n 60 "$MWS_CACHE_DIR/image-build.log" >&2
  fail "docker build"
fi
build_seconds=$(($(date +%s) - build_start))
# The image store is a cache that persists between runs: drop images the new tag replaced and
# keep the build cache bounded, so repeated checks do not fill the disk.
mws_docker image prune -f >/dev/null
mws_docker builder prune -f --keep-storage 3GB >/dev/null
ok "docker build in ${build_seconds} s (unit tests ran inside: $(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$MWS_CACHE_DIR/image-build.log" | tail -n 1 || echo 'cached layer'))"

# --- image configuration --------------------------------------------------------------------
mws_docker image inspect --format '{{json .Config}}' "$image" >"$work/config.json"
python3 - "$work/config.json" <<'PY' || fail "image configuration"
import json, re, sys
c = json.load(open(sys.argv[1]))
problems = []
user = c.get("User") or ""
if not re.fullmatch(r"[0-9]+(:[0-9]+)?", user) or int(user.split(":")[0]) == 0:
    problems.append(f"USER must be numeric and not 0, is {user!r}")
if c.get("Entrypoint") != ["/usr/local/bin/millionws"]:
    problems.append(f"ENTRYPOINT must be exec form [\"/usr/local/bin/millionws\"], is {c.get('Entrypoint')!r}")
args = (c.get("Entrypoint") or []) + (c.get("Cmd") or [])
if any(a.startswith("--") for a in args):
    problems.append(f"flags baked into ENTRYPOINT/CMD (configure through MILLIONWS_*): {args!r}")
ports = set((c.get("ExposedPorts") or {}).keys())
if not {"8080/tcp", "9090/tcp"} <= ports:
    problems.append(f"EXPOSE must include 8080 and 9090, has {sorted(ports)}")
env = dict(e.split("=", 1) for e in c.get("Env") or [])
if "MILLIONWS_DRAIN_TIMEOUT" not in env:
    problems.append("MILLIONWS_DRAIN_TIMEOUT not set (docker stop must not wait the default 10 s drain)")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
ok "config: USER $(mws_docker image inspect --format '{{.Config.User}}' "$image"), exec-form ENTRYPOINT, EXPOSE 8080 9090, MILLIONWS_* environment"

# --- image contents -------------------------------------------------------------------------
# The runtime image has dash as /bin/sh; run the probe as root to see everything.
# shellcheck disable=SC2016 # the script is expanded by the container's shell, not this one
if ! mws_docker run --rm --network host --user 0 --entrypoint /bin/sh "$image" -c '
  set -e
  /usr/local/bin/millionws --help >/dev/null
  /usr/local/bin/millionws-load --help >/dev/null
  for tool in cc c++ gcc g++ clang cpp as ld cmake ninja make; do
    if command -v "$tool" >/dev/null 2>&1; then echo "compiler tool in image: $(command -v "$tool")"; exit 1; fi
  done
  dev=$(dpkg-query -W -f "\${Package}\n" | grep -E -- "-dev$|^(gcc|g\+\+|cpp|clang)(-[0-9.]+)?$|^binutils" || true)
  if [ -n "$dev" ]; then echo "build packages in image: $dev"; exit 1; fi
  headers=$(find / -xdev \( -name "*.h" -o -name "*.hpp" -o -name "*.a" \) -print | head -n 5)
  if [ -n "$headers" ]; then echo "headers or static libraries in image: $headers"; exit 1; fi
  find /usr/local -type f | sort
' >"$work/contents.txt" 2>&1; then
  cat "$work/contents.txt" >&2
  fail "image contents"
fi
ok "contents: millionws and millionws-load run; no compiler, -dev package or header; /usr/local holds: $(tr '\n' ' ' <"$work/contents.txt")"

# --- run it ---------------------------------------------------------------------------------
port=$(free_port)
admin=$(free_port)
while [ "$admin" = "$port" ]; do admin=$(free_port); done
# No --ulimit: raising nofile above the engine's own hard limit is refused on machines like
# these (20000 here); the container inherits that limit, which is plenty for this check.
container=$(mws_docker run -d --network host \
  -e MILLIONWS_BIND=127.0.0.1 -e MILLIONWS_PORT="$port" \
  -e MILLIONWS_ADMIN_BIND=127.0.0.1 -e MILLIONWS_ADMIN_PORT="$admin" \
  -e MILLIONWS_THREADS=2 "$image") || fail "docker run"
for _ in $(seq 1 50); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then break; fi
  if [ "$(mws_docker inspect --format '{{.State.Running}}' "$container")" != true ]; then
    mws_docker logs "$container" >&2 || true
    fail "container exited at start"
  fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" >"$work/health-traffic" || fail "GET /health on the traffic port"
curl -fsS "http://127.0.0.1:$admin/health" >"$work/health-admin" || fail "GET /health on the admin port"
grep -q '"status":"serving"' "$work/health-admin" || fail "admin /health: $(cat "$work/health-admin")"
ok "running: traffic /health '$(cat "$work/health-traffic")', admin /health $(cat "$work/health-admin")"

python3 "$repo/tools/container/ws_client.py" echo 127.0.0.1 "$port" >"$work/echo.txt" || fail "WebSocket echo"
ok "$(cat "$work/echo.txt")"

# The load generator as in-cluster scale tests run it: from this image, against this server.
mws_docker run --rm --network host --entrypoint /usr/local/bin/millionws-load "$image" \
  --url "ws://127.0.0.1:$port/echo" --connections 200 --mode open --echo-connections 100 \
  --echo-rate 1000 --duration 2 --quiet --deadline 60 >"$work/load.json" || fail "millionws-load from the image"
python3 - "$work/load.json" <<'PY' || fail "millionws-load summary"
import json, sys
s = json.load(open(sys.argv[1]))
c, e, v = s["connections"], s["echo"], s["verify_sample"]
bad = c["failed"] or c["connected"] != 200 or e["verify_errors"] or e["received"] != e["sent"] or v["failed"]
print(f"ok   millionws-load from the image: {c['connected']} connected, {e['sent']} echoes sent / {e['received']} received, "
      f"{e['verify_errors']} verify errors, p99 {e['latency_ms']['p99']} ms")
sys.exit(1 if bad else 0)
PY

curl -fsS "http://127.0.0.1:$admin/metrics" >"$work/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 || { cat "$work/promtool.txt" >&2; fail "promtool check metrics"; }
accepted=$(awk '$1 == "millionws_connections_accepted_total" { print $2 }' "$work/metrics.txt")
[ "${accepted%.*}" -ge 201 ] || fail "millionws_connections_accepted_total is '$accepted', expected >= 201"
ok "/metrics passes promtool check metrics; millionws_connections_accepted_total $accepted"

pid=$(mws_docker inspect --format '{{.State.Pid}}' "$container")
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
for id in $uids $gids; do [ "$id" -ne 0 ] || fail "server runs with uid/gid 0 (Uid: $uids, Gid: $gids)"; done
ok "process $pid runs as uid $uids, gid $gids"

# --- docker stop drains ---------------------------------------------------------------------
python3 "$repo/tools/container/ws_client.py" hold 127.0.0.1 "$port" "$work/held" >"$work/hold.txt" 2>&1 &
hold_pid=$!
for _ in $(seq 1 50); do [ -e "$work/held" ] && break; sleep 0.1; done
[ -e "$work/held" ] || fail "holding client did not connect: $(cat "$work/hold.txt")"
stop_start=$(date +%s.%N)
mws_docker stop "$container" >/dev/null # default grace period: 10 s, then SIGKILL
stop_seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$stop_start" "$(date +%s.%N)")
wait "$hold_pid" || fail "client held across docker stop: $(cat "$work/hold.txt")"
hold_pid=""
exit_code=$(mws_docker inspect --format '{{.State.ExitCode}}' "$container")
[ "$exit_code" = 0 ] || { mws_docker logs "$container" 2>&1 | tail -n 20 >&2; fail "docker stop: exit code $exit_code after $stop_seconds s"; }
ok "docker stop: $(cat "$work/hold.txt"); exit code 0 after $stop_seconds s"
mws_docker rm "$container" >/dev/null
container=""

size=$(mws_docker image inspect --format '{{.Size}}' "$image")
ok "image $image: $((size / 1000000)) MB ($((size / 1048576)) MiB), build ${build_seconds} s"
