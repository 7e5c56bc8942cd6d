#!/usr/bin/env bash
# Installs what building, running and testing MillionWS needs on Debian 12, and
# nothing that is already there (safe to run again). Needs root for apt and npm -g.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries
  libssl-dev libspdlog-dev libcli11-dev node-llhttp prometheus-cpp-dev nlohmann-json3-dev
  # tests: GoogleTest, a real WebSocket client, pytest, a real Prometheus
  googletest libgtest-dev libgmock-dev python3-websockets python3-pytest python3-pytest-timeout
  curl procps prometheus
  # tests and benchmarks: perf counts the server's system calls per echo
  linux-perf
)
# `just` comes from npm; a machine whose Node.js already ships npm (e.g. NodeSource builds,
# which conflict with Debian's npm package) keeps its own.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

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

if ! command -v just >/dev/null 2>&1; then
  echo "setup: installing just (npm package rust-just)" >&2
  as_root npm install -g --no-fund --no-audit rust-just >/dev/null
fi
