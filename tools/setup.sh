#!/usr/bin/env bash
# Installs what building, running and testing MillionWS needs on Debian 12, and
# nothing that is already there (safe to run again). Needs root for apt.
# Verified on a brand-new Debian 12 minbase root (../shared/tools/fresh-debian12.sh) and on
# machines that carry a newer Node.js than Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build (clang: a second compiler's warnings, libFuzzer with its runtime, llvm-cov for coverage)
  cmake ninja-build g++ pkg-config clang libclang-rt-14-dev llvm-14 clang-format
  # the checks list the tracked files with `git ls-files` (a minbase root has no git)
  git
  # libraries
  libssl-dev libspdlog-dev libcli11-dev node-llhttp prometheus-cpp-dev nlohmann-json3-dev
  # tests: GoogleTest, a real WebSocket client, pytest, a real Prometheus, a real browser
  googletest libgtest-dev libgmock-dev python3-websockets python3-pytest python3-pytest-timeout
  curl ca-certificates procps iproute2 prometheus chromium-headless-shell
  # wss://: `just tls-cert` runs openssl; the e2e tests make their own pairs in Python
  openssl python3-cryptography
  # tests and benchmarks: perf counts the server's system calls per echo
  linux-perf
  # the container image and the local stack: a real engine, a Debian base made locally
  docker.io docker-compose debootstrap
  # deployment checks: linters; Locust with WebSocket users
  yamllint shellcheck python3-yaml python3-locust python3-websocket python3-gevent
)
# Node.js runs the offline schema checks (tools/*/package.json) and its npm fetches `just`.
# A machine whose Node.js already ships npm (e.g. NodeSource builds, which conflict with
# Debian's npm package) keeps its own; Debian 12's Node.js 18 is enough for every check.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
# kubectl renders kustomizations; a machine that has one keeps it, Debian's client is enough.
if ! command -v kubectl >/dev/null 2>&1; then packages+=(kubernetes-client); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `just` is not packaged in Debian 12. The npm package `rust-just` is a Node wrapper that needs
# Node >= 20.19 (on Debian's 18 it crashes at its first run), and an unpinned install takes
# whatever `latest` is that day. So: the pinned native binary only, from the per-platform npm
# package the wrapper itself depends on (npm checks its integrity hash), installed as a plain
# executable. Node is used only to download it.
just_version=1.43.0
if ! { command -v just >/dev/null 2>&1 && just --version 2>/dev/null | grep -qx "just ${just_version}"; }; then
  case "$(uname -m)" in
    x86_64) just_pkg=rust-just-linux-x64 ;;
    aarch64) just_pkg=rust-just-linux-arm64 ;;
    *) echo "setup: no just binary for $(uname -m)" >&2; exit 1 ;;
  esac
  echo "setup: installing just ${just_version} (npm package ${just_pkg})" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "${just_pkg}@${just_version}" >/dev/null && tar -xzf ./*.tgz)
  as_root install -m 0755 "$tmp/package/bin/just" /usr/local/bin/just
  rm -rf "$tmp"
fi

# The offline deployment checks' npm dependencies, each folder pinned by its lockfile.
while IFS= read -r lock; do
  dir=$(dirname "$lock")
  if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules" ]; then
    echo "setup: npm ci in $dir" >&2
    npm ci --silent --no-fund --no-audit --prefix "$dir" >/dev/null
  fi
done < <(git ls-files '*package-lock.json' 2>/dev/null || true)
