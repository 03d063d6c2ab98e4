#!/usr/bin/env bash
# kubectl end to end for the daemonset, statefulset and cronjob controllers: a DaemonSet puts
# one pod on every node, a StatefulSet creates its pods in ordinal order (the next only once the
# previous is Ready) and scales down from the highest ordinal, and a CronJob fires on its
# schedule and records it, checked by kubectl's output.
#   sets.sh KUBECTL KUBECONFIG NAMESPACE
# There is no node agent or scheduler yet: loops below play the kubelet (pods Running and
# Ready), the scheduler (a daemon pod bound through pods/binding to the node its affinity
# names) and a Job's container (its pod Succeeded), as kwok does.
set -euo pipefail
KUBECTL=$1 KC=$2 NS=$3
NODES="$NS-n1 $NS-n2 $NS-n3"
WORK=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  for n in $NODES; do "$KUBECTL" --kubeconfig "$KC" delete node "$n" --wait=false >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"

"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" create namespace "$NS" >/dev/null
kubelet &
finish_jobs &
scheduler() {
  local pending p node
  while true; do
    pending=$(K get pods -o jsonpath='{range .items[?(@.spec.affinity.nodeAffinity)]}{.metadata.name}{"="}{.spec.nodeName}{"="}{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}{" "}{end}' 2>/dev/null || true)
    for entry in $pending; do
      IFS== read -r p bound node <<<"$entry"
      [ -z "$bound" ] && [ -n "$node" ] || continue
      K create --raw "/api/v1/namespaces/$NS/pods/$p/binding" -f - >/dev/null 2>&1 <<JSON || true
{"apiVersion":"v1","kind":"Binding","metadata":{"name":"$p"},"target":{"kind":"Node","name":"$node"}}
JSON
    done
    sleep 0.3
  done
}
scheduler &

step "cronjob every minute (checked last: it fires at the next minute)"
K create cronjob tick --image=registry.example/tick:v1 --schedule='* * * * *' >/dev/null
expect_in "$(K get cronjob tick)" '^tick +\* \* \* \* \* +(<none> +)?False +0 +<none> ' "get cronjob before firing"

step "daemonset: one pod on every node (of this script: other scripts' nodes are not selected)"
for n in $NODES; do
  K apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata: {name: $n, labels: {kubernetes.io/hostname: $n, e2e-set: $NS}}
YAML
  K patch node "$n" --subresource=status --type=merge -p \
    "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"lastHeartbeatTime\":\"$(date -u +%FT%TZ)\",\"lastTransitionTime\":\"$(date -u +%FT%TZ)\"}]}}" >/dev/null
done
K apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {nodeSelector: {e2e-set: $NS}, containers: [{name: agent, image: registry.example/agent:v1}]}
YAML
expect_in "$(K rollout status ds/agent --timeout=60s)" 'daemon set "agent" successfully rolled out' "rollout status ds"
expect_in "$(K get ds agent)" '^agent +3 +3 +3 +3 +3 ' "get ds: desired current ready up-to-date available"
agent_pods() { K get pods -l app=agent -o jsonpath="{range .items[*]}{$1}{\"\\n\"}{end}" | sort | xargs; }
until_eq "a pod bound to each node" "$NODES" agent_pods .spec.nodeName

step "daemonset: set image rolls every node"
K set image ds/agent agent=registry.example/agent:v2 >/dev/null
expect_in "$(K rollout status ds/agent --timeout=60s)" 'successfully rolled out' "rollout status ds v2"
until_eq "every daemon pod at v2" "registry.example/agent:v2 registry.example/agent:v2 registry.example/agent:v2" \
  agent_pods '.spec.containers[0].image'

step "statefulset: ordinal order, each pod after the previous is Ready"
echo db-1 >"$WORK/hold"
K apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: registry.example/db:v1}]}
YAML
pods_now() { K get pods -l app=db -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}' | sort | xargs; }
until_eq "db-0 Running, db-1 held Pending" "db-0=Running db-1=Pending" pods_now
sleep 2
expect_eq "$(pods_now)" "db-0=Running db-1=Pending" "no db-2 while db-1 is not Ready"
rm "$WORK/hold"
expect_in "$(K rollout status sts/db --timeout=60s 2>&1)" 'partitioned roll out complete: 3 new pods have been updated' "rollout status sts (partition defaults to 0, as upstream)"
expect_in "$(K get sts db)" '^db +3/3 ' "get sts"

step "statefulset: scale down from the highest ordinal"
K scale sts db --replicas=1 >/dev/null
until_eq "only db-0 left" "db-0=Running" pods_now

step "cronjob fired on its schedule"
end=$((SECONDS + 90))
until [ -n "$(K get jobs -o name 2>/dev/null)" ]; do
  ((SECONDS < end)) || fail "the cronjob never fired"
  sleep 0.5
done
job=$(K get jobs -o jsonpath='{.items[0].metadata.name}')
expect_in "$job" '^tick-[0-9]+$' "job named by the scheduled minute"
expect_eq "$(K get job "$job" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" "CronJob/tick" "job owned by the cronjob"
K wait --for=condition=complete "job/$job" --timeout=60s >/dev/null
last_success() { K get cronjob tick -o jsonpath='{.status.lastSuccessfulTime}' | grep -q . && echo yes; }
until_eq "last successful time recorded" yes last_success
expect_in "$(K get cronjob tick)" '^tick +\* \* \* \* \* +(<none> +)?False +0 +[0-9]+s ' "get cronjob: last schedule shown"
expect_in "$(K describe cronjob tick)" "SuccessfulCreate +[0-9a-z]+ +cronjob-controller +Created job $job" "describe cronjob events"

"$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" delete namespace "$NS" --timeout=60s >/dev/null
echo "ok: sets through $("$KUBECTL" version --client -o json | grep -m1 gitVersion | tr -d ' ",')"
