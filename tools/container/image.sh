#!/usr/bin/env bash
# `just image`: builds the repository's Dockerfile as millionws:latest (extra arguments go to
# `docker build`, e.g. `just image --no-cache`). With a reachable Docker engine (DOCKER_HOST
# or the default socket) it builds there, like `docker build -t millionws .`. Without one,
# as on machines that have Debian's docker.io but no running daemon, it starts the private
# engine image-check uses, builds into its cached image store, and stops it again.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/container/lib.sh
source "$repo/tools/container/lib.sh"
tag=${MWS_IMAGE_TAG:-millionws:latest}

if "$MWS_DOCKER_BIN" info >/dev/null 2>&1; then
  log "building $tag with the default Docker engine"
  DOCKER_BUILDKIT=1 "$MWS_DOCKER_BIN" build -t "$tag" "$@" "$repo"
  "$MWS_DOCKER_BIN" image ls "$tag"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "no Docker engine is reachable, and starting the private one needs root"
mkdir -p "$MWS_CACHE_DIR"
exec 9>"$MWS_CACHE_DIR/engine.lock"
flock -w 1800 9 || die "another user of the private engine holds $MWS_CACHE_DIR/engine.lock"
trap engine_stop EXIT
log "no Docker engine reachable: using the private one (images kept in $MWS_ENGINE_DIR/root)"
engine_start
base_image_ensure
# --network host: the private engine has no bridge network for RUN steps.
DOCKER_BUILDKIT=1 mws_docker build --network host -t "$tag" "$@" "$repo"
mws_docker image ls "$tag"
log "to use it: bash tools/container/engine.sh start; export DOCKER_HOST=unix://$MWS_ENGINE_SOCK"
