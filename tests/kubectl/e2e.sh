#!/usr/bin/env bash
# kubectl end to end against capstan: every command a user types, checked by its output.
#   e2e.sh KUBECTL WRITE_KUBECONFIG READ_KUBECONFIG NAMESPACE
# Writes go through one replica and reads through another (the same one on a single replica),
# so every read also checks that a write is visible at once on any replica.
set -euo pipefail
KUBECTL=$1 KC_W=$2 KC_R=$3 NS=$4
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
W() { "$KUBECTL" --kubeconfig "$KC_W" --cache-dir "$WORK/cache-w" -n "$NS" "$@"; }
R() { "$KUBECTL" --kubeconfig "$KC_R" --cache-dir "$WORK/cache-r" -n "$NS" "$@"; }
step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_in() { grep -qE -- "$2" <<<"$1" || fail "$3: '$2' not in: $1"; }
# until_ok WHAT FILE COMMAND...: waits for COMMAND to succeed (the 60 s only catch what never
# happens); shows FILE if it does not.
until_ok() {
  local what=$1 file=$2 end=$((SECONDS + 60)); shift 2
  until "$@"; do
    ((SECONDS < end)) || fail "$what: not after 60 s: $(cat "$file")"
    sleep 0.1
  done
}
# lines_at_least N PATTERN FILE: FILE has at least N lines matching PATTERN.
lines_at_least() { [ "$(grep -cE -- "$2" "$3")" -ge "$1" ]; }

step "version, cluster-info, get --raw"
expect_in "$(W version -o json)" '"gitVersion": "v1\.33\.0\+capstan"' version
expect_in "$(W cluster-info | sed 's/\x1b\[[0-9;]*m//g')" "Kubernetes control plane.* is running at https://127\.0\.0\.1:" cluster-info
expect_eq "$(W get --raw /healthz)" ok "get --raw /healthz"
expect_in "$(R get --raw /api/v1/namespaces/default)" '"name":"default"' "get --raw"

step "api-resources and short names"
res=$(W api-resources)
expect_in "$res" "^deployments +deploy +apps/v1 +true +Deployment" api-resources
expect_in "$res" "^pods +po +v1 +true +Pod" api-resources
expect_in "$res" "^namespaces +ns +v1 +false +Namespace" api-resources
expect_in "$(R get ns)" "^kube-system +Active" "get ns"

step "create namespace|configmap|secret|deployment"
"$KUBECTL" --kubeconfig "$KC_W" --cache-dir "$WORK/cache-w" create namespace "$NS" >/dev/null
W create configmap cm1 --from-literal=a=b >/dev/null
expect_eq "$(R get cm cm1 -o jsonpath='{.data.a}')" b "configmap data"
W create secret generic s1 --from-literal=k=v >/dev/null
expect_eq "$(R get secret s1 -o jsonpath='{.data.k}')" dg== "secret data"
W create deployment web --image=nginx:1.25 --replicas=2 >/dev/null
expect_eq "$(R get deploy web -o jsonpath='{.spec.replicas} {.spec.strategy.rollingUpdate.maxSurge}')" "2 25%" "deployment"

step "create -f, and AlreadyExists"
cat >"$WORK/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: p1
  labels: {app: demo, tier: front}
  annotations: {note: hi}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sleep", "3600"]
    ports: [{containerPort: 8080, name: http}]
YAML
expect_in "$(W create -f "$WORK/pod.yaml")" "pod/p1 created" "create -f"
out=$(W create -f "$WORK/pod.yaml" 2>&1) && fail "second create succeeded"
expect_in "$out" 'AlreadyExists.*pods "p1" already exists' "create twice"

step "apply: created, unchanged, configured"
cat >"$WORK/svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: demo}
spec:
  selector: {app: demo}
  ports: [{name: http, port: 80, targetPort: http}]
YAML
expect_in "$(W apply -f "$WORK/svc.yaml")" "service/demo created" "apply 1"
expect_in "$(W apply -f "$WORK/svc.yaml")" "service/demo unchanged" "apply 2"
sed 's/port: 80,/port: 81,/' "$WORK/svc.yaml" >"$WORK/svc2.yaml"
expect_in "$(W apply -f "$WORK/svc2.yaml")" "service/demo configured" "apply 3"
expect_eq "$(R get svc demo -o jsonpath='{.spec.ports[0].port}')" 81 "applied port"
expect_in "$(R get svc demo -o jsonpath='{.spec.clusterIP}')" '^10\.(9[6-9]|10[0-9]|11[01])\.' "cluster IP"
expect_in "$(R get svc demo -o jsonpath='{.metadata.managedFields[*].manager}')" "kubectl-client-side-apply" "client-side apply manager"
# kubectl moves the client-side apply manager's fields to its server-side apply manager.
expect_in "$(W apply --server-side -f "$WORK/svc2.yaml")" "service/demo serverside-applied" "server-side after client-side"
mf=$(R get svc demo -o jsonpath='{range .metadata.managedFields[*]}{.manager}/{.operation} {end}')
expect_in "$mf" "kubectl/Apply" "server-side apply manager"
[[ $mf != *kubectl-client-side-apply* ]] || fail "client-side apply manager not migrated: $mf"
expect_in "$(W apply -f "$WORK/svc2.yaml")" "service/demo unchanged" "client-side apply after server-side"

step "apply --server-side: field managers, conflicts, --force-conflicts, removal"
cat >"$WORK/ssa.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, labels: {app: ssa, team: a}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers: [{name: main, image: nginx:1.25}]
YAML
expect_in "$(W apply --server-side -f "$WORK/ssa.yaml")" "deployment.apps/ssa serverside-applied" "ssa create"
expect_eq "$(R get deploy ssa -o jsonpath='{.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}')" "kubectl Apply" "ssa manager"
expect_in "$(R get deploy ssa -o yaml)" "^  name: ssa$" "managed fields hidden"
expect_in "$(R get deploy ssa -o yaml --show-managed-fields)" "f:replicas: \{\}" "--show-managed-fields"
W scale deploy ssa --replicas=5 >/dev/null
out=$(W apply --server-side -f "$WORK/ssa.yaml" 2>&1) && fail "conflicting apply succeeded"
expect_in "$out" 'Apply failed with 1 conflict: conflict with "kubectl[^"]*".*: \.spec\.replicas' "ssa conflict"
expect_eq "$(R get deploy ssa -o jsonpath='{.spec.replicas}')" 5 "conflict changed nothing"
expect_in "$(W apply --server-side --force-conflicts -f "$WORK/ssa.yaml")" "serverside-applied" "--force-conflicts"
expect_eq "$(R get deploy ssa -o jsonpath='{.spec.replicas}')" 2 "forced replicas"
sed 's/, team: a//' "$WORK/ssa.yaml" >"$WORK/ssa2.yaml"
W apply --server-side -f "$WORK/ssa2.yaml" >/dev/null
expect_eq "$(R get deploy ssa -o jsonpath='{.metadata.labels}')" '{"app":"ssa"}' "unapplied label removed"
W delete deploy ssa >/dev/null

step "get: table, -o wide|yaml|json|jsonpath, -A, -L, --show-labels, all"
expect_in "$(R get pods)" "^p1 +0/1 +Pending +0 +[0-9]+s" "get pods"
expect_in "$(R get pods -o wide | head -1)" "^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES" "-o wide"
expect_in "$(R get pod p1 -o yaml)" "^  name: p1$" "-o yaml"
expect_in "$(R get pod p1 -o json)" '"kind": "Pod"' "-o json"
# (The deployment's pods exist too now: the controllers made them.)
expect_eq "$(R get pods -l tier=front -o jsonpath='{.items[*].metadata.name}')" p1 "-o jsonpath"
expect_in "$(R get pods -A)" "^$NS +p1 +0/1" "-A"
expect_in "$(R get pods -L tier)" "^p1 .* front$" "-L"
expect_in "$(R get pods --show-labels)" "app=demo,tier=front" "--show-labels"
expect_in "$(R get deploy)" "^web +0/2 +[0-2] +0 " "get deploy"
all=$(R get all)
expect_in "$all" "pod/p1" "get all"
expect_in "$all" "service/demo" "get all"
expect_in "$all" "deployment.apps/web" "get all"

step "describe"
expect_in "$(R describe pod p1)" "^Name: +p1" "describe pod"
expect_in "$(R describe deployment web)" "^Replicas: +2 desired" "describe deployment"

step "label, annotate"
W label pod p1 env=test >/dev/null
expect_in "$(R get pod p1 --show-labels)" "env=test" label
W annotate pod p1 note2=there >/dev/null
expect_eq "$(R get pod p1 -o jsonpath='{.metadata.annotations.note2}')" there annotate

step "patch: strategic, merge, json"
W patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}' >/dev/null
expect_eq "$(R get deploy web -o jsonpath='{.spec.template.spec.containers[*].image}')" nginx:1.27 "strategic patch"
W patch pod p1 --type=merge -p '{"metadata":{"labels":{"m":"1"}}}' >/dev/null
W patch pod p1 --type=json -p '[{"op":"add","path":"/metadata/labels/j","value":"2"}]' >/dev/null
expect_eq "$(R get pod p1 -o jsonpath='{.metadata.labels.m}{.metadata.labels.j}')" 12 "merge and json patch"

step "scale, wait --for=jsonpath"
W scale deployment web --replicas=3 >/dev/null
expect_eq "$(R get deploy web -o jsonpath='{.spec.replicas}')" 3 scale
expect_in "$(R wait --for=jsonpath='{.spec.replicas}'=3 deployment/web --timeout=60s)" "condition met" "wait --for=jsonpath"

step "edit"
KUBE_EDITOR="sed -i s/note:\ hi/note:\ edited/" W edit pod p1 >/dev/null
expect_eq "$(R get pod p1 -o jsonpath='{.metadata.annotations.note}')" edited edit

step "diff"
rc=0; W diff -f "$WORK/svc2.yaml" >/dev/null || rc=$?
expect_eq "$rc" 0 "diff of an unchanged object"
rc=0; W diff -f "$WORK/svc.yaml" >"$WORK/diff.out" || rc=$?
expect_eq "$rc" 1 "diff of a changed object"
expect_in "$(cat "$WORK/diff.out")" "^\+ +port: 80" "diff output"

step "replace"
R get cm cm1 -o yaml | sed 's/^  a: b$/  a: c/' >"$WORK/cm.yaml"
W replace -f "$WORK/cm.yaml" >/dev/null
expect_eq "$(R get cm cm1 -o jsonpath='{.data.a}')" c replace
out=$(W replace -f "$WORK/cm.yaml" 2>&1) && fail "replace with a stale resourceVersion succeeded"
expect_in "$out" "the object has been modified" "stale replace"

step "explain"
expect_in "$(W explain pods.spec.containers)" "image" "explain pods.spec.containers"
expect_in "$(W explain deployment.spec.replicas)" "replicas" "explain deployment.spec.replicas"

step "get -w"
"$KUBECTL" --kubeconfig "$KC_R" --cache-dir "$WORK/cache-r" -n "$NS" get pods -w >"$WORK/w.out" 2>&1 &
watcher=$!
# It watches from the list it printed first: a change made after that line shows up.
until_ok "get -w listed p1" "$WORK/w.out" lines_at_least 1 '^p1 ' "$WORK/w.out"
W label pod p1 watched=yes >/dev/null
until_ok "get -w saw no change" "$WORK/w.out" lines_at_least 2 '^p1 ' "$WORK/w.out"
kill $watcher 2>/dev/null || true
wait $watcher || true

step "wait --for=delete, delete --wait"
"$KUBECTL" --kubeconfig "$KC_R" --cache-dir "$WORK/cache-r" -n "$NS" wait --for=delete pod/p1 --timeout=60s -v=6 >"$WORK/wd.out" 2>"$WORK/wd.log" &
waiter=$!
# It must have found the pod before it goes (else there is nothing to wait for): its request log
# (-v=6) shows the GET of pod/p1 answered.
until_ok "wait --for=delete found p1" "$WORK/wd.log" grep -qE '/pods/p1[" ].*200 OK' "$WORK/wd.log"
expect_in "$(W delete pod p1 --wait)" 'pod "p1" deleted' "delete --wait"
wait $waiter || fail "wait --for=delete: $(cat "$WORK/wd.out" "$WORK/wd.log")"
expect_in "$(cat "$WORK/wd.out")" "condition met" "wait --for=delete"

step "delete -f, NotFound"
expect_in "$(W delete -f "$WORK/svc.yaml")" 'service "demo" deleted' "delete -f"
out=$(R get pod nope 2>&1) && fail "get of a missing pod succeeded"
expect_in "$out" 'NotFound.*pods "nope" not found' NotFound

step "delete namespace"
"$KUBECTL" --kubeconfig "$KC_W" --cache-dir "$WORK/cache-w" delete namespace "$NS" --wait --timeout=60s >/dev/null
out=$("$KUBECTL" --kubeconfig "$KC_R" --cache-dir "$WORK/cache-r" get namespace "$NS" 2>&1) && fail "namespace still there"
echo "ok: $($KUBECTL version --client -o json | grep -m1 gitVersion)"
