#!/usr/bin/env bash
# `just local-check`: every check of deploy/local that can run without Docker Hub or a Grafana
# server, strongest last:
#   compose.yml through docker-compose 1.29's validator, yamllint, promtool (config, rules, and
#   the rules' unit tests),
#   the stack's wiring by cross-reference, the dashboard type-checked against @grafana/schema,
#   and every panel's PromQL and recording rule evaluated by a real Prometheus scraping a real
#   server under load.
# Usage: local-check.sh [BUILD_DIR]  (default build/release; must hold millionws and
# millionws-load, which `just local-check` builds first). Stops at the first failing check.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
build=${1:-build/release}
local_dir=deploy/local
dashboards=("$local_dir"/dashboards/*.json)

find_binary() {
  local found
  found=$(find "$build" -name "$1" -type f -perm -u+x -print -quit 2>/dev/null)
  [ -n "$found" ] || { echo "local-check: no $1 under $build (just build release)" >&2; exit 1; }
  echo "$found"
}
server=$(find_binary millionws)
load=$(find_binary millionws-load)
step() { printf '\n== %s\n' "$*"; }

step "docker-compose config -q ($local_dir/compose.yml)"
docker-compose -f "$local_dir/compose.yml" config -q
echo "ok   compose.yml is valid for docker-compose $(docker-compose version --short)"

step "yamllint ($local_dir)"
yamllint --strict -c "$local_dir/.yamllint.yml" "$local_dir"
echo "ok   yamllint: $(find "$local_dir" -name '*.yml' | wc -l) files"

step "promtool check config / check rules / test rules"
promtool check config "$local_dir/prometheus.yml"
promtool check rules "$local_dir"/*.rules.yml
# Known input series through the recording rules: their values and label matching.
(cd "$local_dir" && promtool test rules ./*.rules.test.yml)

step "shellcheck (tools/container, tools/dashboard)"
shellcheck -x tools/container/*.sh tools/dashboard/*.sh
echo "ok   shellcheck"

step "stack wiring (tools/dashboard/check_stack.py)"
python3 tools/dashboard/check_stack.py --local "$local_dir"

step "dashboard types (@grafana/schema + tsc --strict)"
python3 tools/dashboard/check_types.py --datasources "$local_dir/provisioning/datasources" "${dashboards[@]}"

step "every panel's PromQL against a real Prometheus scraping a real server under load"
python3 tools/dashboard/promql_live_check.py --server "$server" --load "$load" \
  --prometheus-config "$local_dir/prometheus.yml" "${dashboards[@]}"
