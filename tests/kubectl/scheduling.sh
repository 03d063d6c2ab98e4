#!/usr/bin/env bash
# kubectl end to end for the scheduler: a pod whose nodeSelector no node matches is Pending
# with kube-scheduler's message (describe, conditions, events) until `kubectl label node`
# lets it be bound; taints (`kubectl taint`) and cordons keep pods off; PriorityClasses
# (`kubectl create priorityclass`, the system classes in `kubectl get pc`).
#   scheduling.sh KUBECTL KUBECONFIG NAMESPACE
# The nodes are made here (no node agent); they are removed on exit.
set -euo pipefail
KUBECTL=$1 KC=$2 NS=$3
N1="$NS-n1" N2="$NS-n2"
WORK=$(mktemp -d)
trap '"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" delete node "$N1" "$N2" --ignore-not-found >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/lib.sh"
KN() { "$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" "$@"; }

KN create namespace "$NS" >/dev/null
step "two nodes with 2 cpus each"
for n in "$N1" "$N2"; do
  KN apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata: {name: $n, labels: {kubernetes.io/hostname: $n}}
YAML
  KN patch node "$n" --subresource=status --type=merge -p \
    '{"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},"allocatable":{"cpu":"2","memory":"4Gi","pods":"110"}}}' >/dev/null
done

step "a pod no node's labels fit waits with the scheduler's message"
K apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: ssd}
spec: {nodeSelector: {disk: ssd}, containers: [{name: c, image: registry.example/app:v1}]}
YAML
want="0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
until_eq "PodScheduled message" "$want" K get pod ssd -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'
expect_eq "$(K get pod ssd -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')" "Unschedulable" "PodScheduled reason"
out=$(K describe pod ssd)
expect_in "$out" "FailedScheduling .*default-scheduler +0/2 nodes are available" "describe shows the FailedScheduling event"
expect_in "$(K get pod ssd)" "Pending" "kubectl get shows Pending"

step "labelling a node lets the pod be bound there"
KN label node "$N2" disk=ssd >/dev/null
until_eq "the pod's node" "$N2" K get pod ssd -o jsonpath='{.spec.nodeName}'
until_eq "Scheduled event" "Successfully assigned $NS/ssd to $N2" K get events --field-selector reason=Scheduled,involvedObject.name=ssd -o jsonpath='{.items[0].message}'
expect_in "$(K get pod ssd -o wide)" "$N2" "get -o wide shows the node"

step "a tainted node and a cordoned node keep a plain pod off"
KN taint nodes "$N1" dedicated=gpu:NoSchedule >/dev/null
KN cordon "$N2" >/dev/null
K run plain --image=registry.example/app:v1 --restart=Never >/dev/null
want="0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
until_eq "taint message" "$want" K get pod plain -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'
KN uncordon "$N2" >/dev/null
until_eq "bound after uncordon" "$N2" K get pod plain -o jsonpath='{.spec.nodeName}'

step "priority classes: the system classes and a new one"
out=$(KN get priorityclasses)
expect_in "$out" "system-cluster-critical +2000000000" "system-cluster-critical listed"
expect_in "$out" "system-node-critical +2000001000" "system-node-critical listed"
KN create priorityclass "$NS-high" --value=1000 --description="test" >/dev/null
K run urgent --image=registry.example/app:v1 --restart=Never --overrides="{\"spec\":{\"priorityClassName\":\"$NS-high\"}}" >/dev/null
until_eq "priority from the class" "1000" K get pod urgent -o jsonpath='{.spec.priority}'
until_eq "urgent bound" "$N2" K get pod urgent -o jsonpath='{.spec.nodeName}'
KN delete priorityclass "$NS-high" >/dev/null
echo "scheduling.sh: ok"
