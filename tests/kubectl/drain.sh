#!/usr/bin/env bash
# kubectl end to end for the disruption controller and the eviction subresource: `kubectl
# drain` of a node whose pods a PodDisruptionBudget protects cordons the node, is refused with
# the budget's 429 and keeps retrying, and finishes once the budget allows the evictions.
#   drain.sh KUBECTL KUBECONFIG NAMESPACE
# A loop below plays the kubelet, marking pods Running and Ready (as kwok does).
set -euo pipefail
KUBECTL=$1 KC=$2 NS=$3
NODE="$NS-node"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/lib.sh"

"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" create namespace "$NS" >/dev/null
kubelet &

step "a node with two pods a budget protects"
K apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $NODE
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec: {nodeName: $NODE, containers: [{name: db, image: registry.example/db:v1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec: {nodeName: $NODE, containers: [{name: db, image: registry.example/db:v1}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec: {minAvailable: 2, selector: {matchLabels: {app: db}}}
YAML
until_eq "budget status" "2 2 0" K get pdb db -o jsonpath='{.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed}'

step "drain is refused by the budget and retries"
K drain "$NODE" --force --grace-period=0 --timeout=90s >"$WORK/drain.out" 2>&1 &
drain=$!
end=$((SECONDS + 60))
until grep -q "Cannot evict pod as it would violate the pod's disruption budget." "$WORK/drain.out"; do
  ((SECONDS < end)) || fail "no budget refusal: $(cat "$WORK/drain.out")"
  sleep 0.2
done
expect_eq "$(K get node "$NODE" -o jsonpath='{.spec.unschedulable}')" true "cordoned"
expect_eq "$(K get pods -o name | wc -l)" 2 "pods kept while the budget refuses"
kill -0 "$drain" 2>/dev/null || fail "drain gave up: $(cat "$WORK/drain.out")"

step "drain finishes once the budget allows"
K patch pdb db --type=merge -p '{"spec":{"minAvailable":0}}' >/dev/null
wait "$drain" || fail "drain failed: $(cat "$WORK/drain.out")"
grep -q "node/$NODE drained" "$WORK/drain.out" || fail "not drained: $(cat "$WORK/drain.out")"
expect_eq "$(K get pods -o name | wc -l)" 0 "pods left after the drain"
"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" delete node "$NODE" >/dev/null
echo "OK"
