#!/usr/bin/env bash
# Builds the gorilla/websocket baseline server offline from Debian packages:
#   golang-go (1.19) and golang-github-gorilla-websocket-dev (sources in /usr/share/gocode).
# Usage: bench/baseline/build.sh [OUT_DIR]   (default: build/bench-baseline under the repo)
# Prints the path of the binary on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/build/bench-baseline}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -f /usr/share/gocode/src/github.com/gorilla/websocket/conn.go ] ||
  missing+=(golang-github-gorilla-websocket-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "baseline: installing ${missing[*]}" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# GOPATH mode: the import resolves to /usr/share/gocode/src/github.com/gorilla/websocket, so
# nothing is fetched. The build cache lives in the output directory, not in $HOME.
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' GOCACHE="$out/gocache"
export CGO_ENABLED=0
(cd "$here" && go build -trimpath -o "$out/millionws-baseline" main.go)
echo "$out/millionws-baseline"
