#!/bin/sh
# The Locust master of a run (the master Job in master.yaml runs it; the checks run it on
# loopback): runs the test headless and, once Locust has exited, prints its results (Locust's
# CSV files and the locustfile's final JSON, locust_final.json) into its own output between
# markers. A finished pod keeps its log but not its files, so run.sh --extract takes them from
# `kubectl logs`. Exits with Locust's status (1 when any request failed).
#
#   master.sh [LOCUST ARGS...]
#
# Settings come from the environment as Locust reads it (LOCUST_HOST, LOCUST_USERS,
# LOCUST_SPAWN_RATE, LOCUST_RUN_TIME, LOCUST_EXPECT_WORKERS, ...); LOCUSTFILE is the locustfile
# (default /locust/locustfile.py, where the pod mounts it). POSIX sh: the upstream image has no
# bash guarantee.
set -u

results=$(mktemp -d) || exit 2
status=0
export MWS_FINAL_STATS="$results/locust_final.json"
locust -f "${LOCUSTFILE:-/locust/locustfile.py}" --master --headless --only-summary \
  --csv "$results/locust" "$@" || status=$?
for file in "$results"/locust_*.csv "$MWS_FINAL_STATS"; do
  [ -e "$file" ] || continue
  echo "=== millionws-locust file ${file##*/}"
  cat "$file"
  [ -z "$(tail -c 1 "$file")" ] || echo  # the marker below must start a line
done
echo "=== millionws-locust end status=$status"
rm -rf "$results"
exit "$status"
