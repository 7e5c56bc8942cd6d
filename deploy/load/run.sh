#!/usr/bin/env bash
# Runs deploy/load's Job on the current kubectl context: every pod starts its ramp at the same
# wall-clock moment, and their summaries are merged into one.
#
#   deploy/load/run.sh [KUSTOMIZE_DIR]      apply with a start time, wait, gather
#   deploy/load/run.sh --render [DIR]       print what would be applied (no cluster needed)
#
# KUSTOMIZE_DIR defaults to this directory; an overlay of yours (image, target, connections,
# SHARDS with the Job's completions and parallelism) works the same. Environment:
#   LEAD       seconds from now to the start (default 180): long enough for every pod to be
#              scheduled and pull the image; a pod that starts later ramps at once and its
#              summary says how late (merged.json: start.latest_late_seconds)
#   RESULTS    where results go (default ./load-results/<UTC time>)
#   TIMEOUT    seconds to wait for the Job after the start (default 3600)
#
# The start time goes in through a throwaway overlay that merges START_AT into the
# millionws-load ConfigMap, so the kustomization itself stays unchanged.
set -euo pipefail

readonly NAMESPACE=millionws-load
readonly JOB=millionws-load
here=$(cd "$(dirname "$0")" && pwd)

render=0
if [[ ${1:-} == --render ]]; then
  render=1
  shift
fi
dir=$(cd "${1:-$here}" && pwd)
lead=${LEAD:-180}
start_at=$(($(date +%s) + lead))

# A directory goes under `resources:`, except in kustomize v2 (Debian's kubectl 1.20, whose
# `kubectl version` names no kustomize), which takes it only under `bases:` (deprecated since).
base_key=bases
if kubectl version --client 2>/dev/null | grep -q 'Kustomize Version'; then
  base_key=resources
fi
overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
cat >"$overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
$base_key:
  - $(realpath --relative-to="$overlay" "$dir")  # relative: kustomize takes no absolute base
configMapGenerator:
  - name: millionws-load
    namespace: $NAMESPACE
    behavior: merge
    literals:
      - START_AT=$start_at
EOF

if ((render)); then
  KUBECONFIG=${KUBECONFIG:-/dev/null} kubectl kustomize "$overlay"
  exit 0
fi

results=${RESULTS:-./load-results/$(date -u +%Y%m%dT%H%M%SZ)}
timeout=${TIMEOUT:-3600}
mkdir -p "$results"

# A Job's pod template cannot change once created: an earlier run goes first.
kubectl delete job "$JOB" -n "$NAMESPACE" --ignore-not-found --wait=true
kubectl apply -k "$overlay"
echo "run.sh: pods start their ramp at $(date -u -d "@$start_at" +%H:%M:%SZ) (in ${lead} s)" >&2

wait_for=$((lead + timeout))
if ! kubectl wait job "$JOB" -n "$NAMESPACE" --for=condition=complete --timeout="${wait_for}s"; then
  echo "run.sh: the Job did not complete (a pod failed or it timed out); gathering what there is" >&2
fi

kubectl get pods -n "$NAMESPACE" -l job-name="$JOB" -o wide >"$results/pods.txt"
# One log per pod, named by its shard (the completion index).
while read -r pod index; do
  kubectl logs -n "$NAMESPACE" "$pod" >"$results/pod-$index.log" || true
done < <(kubectl get pods -n "$NAMESPACE" -l job-name="$JOB" \
  -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{"\n"}{end}')

status=0
/usr/bin/python3 "$here/gather.py" "$results"/pod-*.log >"$results/merged.json" || status=$?
echo "run.sh: merged summary in $results/merged.json (gather.py exit $status: 0 clean," \
  "1 failures, 2 missing or unusable shards)" >&2
exit "$status"
