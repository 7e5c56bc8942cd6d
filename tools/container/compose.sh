#!/usr/bin/env bash
# `just up [load]` / `just down`: the local stack of deploy/local/compose.yml (MillionWS,
# Prometheus, Grafana; `load` adds the load generator) on the default Docker engine. Needs an
# engine that can pull prom/prometheus and grafana/grafana, i.e. Docker Hub access; machines
# without it can still run every check of the stack (`just local-check`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/container/lib.sh
source "$repo/tools/container/lib.sh"
file=$repo/deploy/local/compose.yml

# Compose v2 (the docker CLI plugin) when present, else Debian 12's docker-compose 1.29.
if "$MWS_DOCKER_BIN" compose version >/dev/null 2>&1; then
  compose=("$MWS_DOCKER_BIN" compose -f "$file")
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose -f "$file")
else
  die "neither 'docker compose' nor docker-compose is installed"
fi
"$MWS_DOCKER_BIN" info >/dev/null 2>&1 ||
  die "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-default}); the stack needs one that can pull prom/prometheus and grafana/grafana"

action=${1:-}
shift || true
case "$action" in
  up)
    profiles=()
    for p in "$@"; do profiles+=(--profile "$p"); done
    "${compose[@]}" "${profiles[@]}" up -d --build
    cat <<URLS
Grafana     http://127.0.0.1:13000  (dashboard "MillionWS"; admin/admin to edit)
Prometheus  http://127.0.0.1:19091
MillionWS   ws://127.0.0.1:18080/echo, metrics http://127.0.0.1:19090/metrics
URLS
    ;;
  down)
    # Every profile, so a `just up load` stack goes away completely.
    "${compose[@]}" --profile load down --remove-orphans
    ;;
  *) die "usage: compose.sh up [PROFILE...] | down" ;;
esac
