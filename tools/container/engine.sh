#!/usr/bin/env bash
# The private Docker engine by hand: `engine.sh start` (then
# `export DOCKER_HOST=unix:///run/millionws-engine/docker.sock`), `engine.sh stop`,
# `engine.sh status`. Same engine, image store and lock as `just image` / `just image-check`;
# those stop it when they finish, so run them with the engine stopped.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/container/lib.sh
source "$repo/tools/container/lib.sh"

case "${1:-}" in
  start)
    engine_start
    base_image_ensure
    echo "export DOCKER_HOST=unix://$MWS_ENGINE_SOCK"
    ;;
  stop) engine_stop ;;
  status)
    if engine_running; then echo "running, pid $(cat "$MWS_ENGINE_PIDFILE"), DOCKER_HOST=unix://$MWS_ENGINE_SOCK"; else echo "stopped"; fi
    ;;
  *) die "usage: engine.sh start|stop|status" ;;
esac
