#!/usr/bin/env bash
# kubectl end to end for the controllers: rollouts (status, history, undo, pause, resume,
# restart), scaling, and cascading deletion in its three modes, checked by kubectl's output.
#   workloads.sh KUBECTL KUBECONFIG NAMESPACE
# There is no node agent yet: a loop below plays the kubelet, marking pods Running and Ready
# through the status subresource (as kwok does).
set -euo pipefail
KUBECTL=$1 KC=$2 NS=$3
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/lib.sh"

"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" create namespace "$NS" >/dev/null
kubelet &

step "create deployment, rollout status"
K create deployment web --image=registry.example/web:v1 --replicas=3 >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" 'deployment "web" successfully rolled out' "rollout status"
expect_in "$(K get deployment web)" '^web +3/3 +3 +3 ' "get deployment"
expect_eq "$(K get rs -o name | wc -l)" 1 "one replicaset"
expect_in "$(K get rs)" '^web-[bcdfghjklmnpqrstvwxz2456789]+ +3 +3 +3 ' "get rs"

step "set image, history"
K set image deployment/web web=registry.example/web:v2 >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" "successfully rolled out" "rollout status v2"
hist=$(K rollout history deployment/web)
expect_in "$hist" '^1 ' "history revision 1"
expect_in "$hist" '^2 ' "history revision 2"
expect_in "$(K rollout history deployment/web --revision=2)" 'registry.example/web:v2' "history --revision=2"

step "rollout undo"
K rollout undo deployment/web >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" "successfully rolled out" "rollout status undo"
expect_eq "$(K get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" registry.example/web:v1 "undone image"
hist=$(K rollout history deployment/web)
expect_in "$hist" '^3 ' "history revision 3"
grep -qE '^1 ' <<<"$hist" && fail "revision 1 is now 3: $hist"

step "pause, resume"
K rollout pause deployment/web >/dev/null
K set image deployment/web web=registry.example/web:v3 >/dev/null
sleep 1
expect_eq "$(K get rs -o name | wc -l)" 2 "no new replicaset while paused"
K rollout resume deployment/web >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" "successfully rolled out" "rollout status resumed"
expect_eq "$(K get rs -o name | wc -l)" 3 "the paused change rolled out"

step "rollout restart, scale"
K rollout restart deployment/web >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" "successfully rolled out" "rollout status restart"
K scale deployment/web --replicas=5 >/dev/null
expect_in "$(K rollout status deployment/web --timeout=60s)" "successfully rolled out" "rollout status scaled"
until_eq "5 pods" 5 bash -c "$(declare -f K); KUBECTL='$KUBECTL' KC='$KC' WORK='$WORK' NS='$NS'; K get pods -l app=web --no-headers | wc -l"

step "describe shows the controller's events"
expect_in "$(K describe deployment web)" 'ScalingReplicaSet +[0-9a-z]+ +deployment-controller +Scaled up replica set web-' "describe events"

step "delete (background): the tree goes"
K delete deployment web >/dev/null
until_eq "replicasets collected" 0 bash -c "$(declare -f K); KUBECTL='$KUBECTL' KC='$KC' WORK='$WORK' NS='$NS'; K get rs -l app=web --no-headers 2>/dev/null | wc -l"
until_eq "pods collected" 0 bash -c "$(declare -f K); KUBECTL='$KUBECTL' KC='$KC' WORK='$WORK' NS='$NS'; K get pods -l app=web --no-headers 2>/dev/null | wc -l"

step "delete --cascade=orphan: the replicaset stays, unowned"
K create deployment kept --image=registry.example/kept:v1 --replicas=2 >/dev/null
K rollout status deployment/kept --timeout=60s >/dev/null
K delete deployment kept --cascade=orphan >/dev/null
expect_eq "$(K get rs -l app=kept --no-headers | wc -l)" 1 "orphaned replicaset kept"
expect_eq "$(K get rs -l app=kept -o jsonpath='{.items[0].metadata.ownerReferences[*].kind}')" "" "no owner left"
expect_eq "$(K get pods -l app=kept --no-headers | wc -l)" 2 "its pods kept"

step "delete --cascade=foreground: the owner goes last"
K create deployment fg --image=registry.example/fg:v1 --replicas=2 >/dev/null
K rollout status deployment/fg --timeout=60s >/dev/null
K delete deployment fg --cascade=foreground --timeout=60s >/dev/null
expect_eq "$(K get rs -l app=fg --no-headers 2>/dev/null | wc -l)" 0 "foreground: replicasets gone with the owner"
expect_eq "$(K get pods -l app=fg --no-headers 2>/dev/null | wc -l)" 0 "foreground: pods gone with the owner"

step "create job, wait for completion"
K create job once --image=registry.example/once:v1 >/dev/null
# The stand-in kubelet above runs pods; a Job's pod must also finish (lib.sh's finish_jobs).
finish_jobs &
K wait --for=condition=complete job/once --timeout=60s >/dev/null
expect_in "$(K get job once)" '^once +(Complete +)?1/1 ' "get job"
expect_in "$(K describe job once)" 'Completed +[0-9a-z]+ +job-controller +Job completed' "describe job events"

step "delete namespace"
"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" delete namespace "$NS" --timeout=60s >/dev/null
out=$("$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" get namespace "$NS" 2>&1) && fail "namespace still there: $out"
expect_in "$out" 'NotFound' "namespace gone"
echo "ok: workloads through $("$KUBECTL" version --client -o json | grep -m1 gitVersion | tr -d ' ",')"
