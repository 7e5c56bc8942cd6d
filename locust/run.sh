#!/usr/bin/env bash
# Runs the distributed Locust test on the current kubectl context and collects its results.
#
#   locust/run.sh [KUSTOMIZE_DIR]          apply, wait, follow the master, collect the CSVs
#   locust/run.sh --extract LOG DIR        only take the CSVs out of a saved master log
#
# KUSTOMIZE_DIR defaults to this directory; point it at an overlay of your own that sets the
# image, the target, users and workers (README.md, "On EKS"). Environment:
#   RESULTS    where results go (default ./locust-results/<UTC time>)
#   TIMEOUT    seconds to wait for the whole run after the master starts (default 7200)
#   KEEP=1     leave the workers running afterwards (default: scale them to 0)
#
# Steps: delete an earlier master Job (Jobs cannot be re-applied once run), `kubectl apply -k`,
# wait for the master pod, follow its log to the terminal and RESULTS/master.log until it ends,
# take Locust's CSVs and the final JSON out of that log (master.sh prints them there), scale the workers to 0 so
# they stop reconnecting to a master that is gone. Exits with the master's status: 0 only when
# no request failed.
set -euo pipefail

readonly NAMESPACE=millionws-locust
readonly MASTER_JOB=locust-master
readonly WORKERS=deployment/locust-worker

# Writes each "=== millionws-locust file NAME" section of LOG to DIR/NAME and prints the status
# from the end marker; fails when the log has no end marker (the master did not finish).
extract() {
  local log=$1 dir=$2
  mkdir -p "$dir"
  awk -v dir="$dir" '
    /^=== millionws-locust file / {
      name = $4
      # Only the names master.sh writes: nothing can escape DIR.
      if (name !~ /^locust_[a-z_]+\.(csv|json)$/) { print "bad section name: " name > "/dev/stderr"; exit 2 }
      out = dir "/" name
      printf "" > out
      next
    }
    /^=== millionws-locust end status=/ {
      if (out != "") close(out)
      out = ""
      split($4, kv, "=")
      status = kv[2]
      ended = 1
      next
    }
    out != "" { print > out }
    END {
      if (!ended) { print "no end marker: the master did not finish" > "/dev/stderr"; exit 2 }
      print status
    }' "$log"
}

if [[ ${1:-} == --extract ]]; then
  [[ $# -eq 3 ]] || { echo "usage: $0 --extract LOG DIR" >&2; exit 2; }
  status=$(extract "$2" "$3")
  echo "locust status $status; CSVs in $3" >&2
  exit "$status"
fi

dir=${1:-$(dirname "$0")}
results=${RESULTS:-./locust-results/$(date -u +%Y%m%dT%H%M%SZ)}
timeout=${TIMEOUT:-7200}
mkdir -p "$results"

kubectl delete job "$MASTER_JOB" -n "$NAMESPACE" --ignore-not-found --wait=true
kubectl apply -k "$dir"
kubectl rollout status "$WORKERS" -n "$NAMESPACE" --timeout=600s
kubectl wait pod -n "$NAMESPACE" -l job-name="$MASTER_JOB" --for=condition=Ready --timeout=600s

# Follows until the master container ends; a dropped stream is picked up again below.
timeout "$timeout" kubectl logs -f -n "$NAMESPACE" "job/$MASTER_JOB" || true
kubectl wait job "$MASTER_JOB" -n "$NAMESPACE" --for=condition=complete --timeout=60s ||
  kubectl wait job "$MASTER_JOB" -n "$NAMESPACE" --for=condition=failed --timeout=60s || true
kubectl logs -n "$NAMESPACE" "job/$MASTER_JOB" >"$results/master.log"
kubectl get pods -n "$NAMESPACE" -o wide >"$results/pods.txt"

if [[ ${KEEP:-0} != 1 ]]; then
  kubectl scale "$WORKERS" -n "$NAMESPACE" --replicas=0
fi

status=$(extract "$results/master.log" "$results") || {
  echo "run.sh: no results in $results/master.log (the master did not finish)" >&2
  exit 1
}
echo "run.sh: locust exited $status; results in $results (locust_stats.csv: README.md)" >&2
exit "$status"
