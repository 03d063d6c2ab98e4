#!/usr/bin/env bash
# Every step of docs/ha.md, on loopback: processes on 127.0.0.1 stand in for hosts, and
# scripts/loopback-lb.py for the load balancer. Run by tests/ha_guide.rs (so in CI).
#
#   scripts/ha-guide.sh [WORK_DIR]      CAPSTAN=path/to/capstan (default: capstan on PATH)
#
# Steps: first server; two more join with its token (3 voters); the API behind a load balancer
# (with --tls-san); grow to 5; rolling restart of all 5 (the upgrade procedure) while writes go on
# through the load balancer; replace a dead member; backup; disaster recovery onto 3 new replicas
# from the backup. Exits non-zero at the first step that does not do what the guide says.
set -euo pipefail
CAPSTAN=${CAPSTAN:-capstan}
HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-$(mktemp -d)}
mkdir -p "$W"
LB_NAME=api.capstan.test
declare -A PID API CLIENT PEER FLAGS

cleanup() {
  for p in "${PID[@]}" ${LB_PID:-}; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

step() { echo "== $*"; }
fail() { echo "FAILED: $*" >&2; for f in "$W"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/$1/endpoints.json" "$2"; }

# start NAME [extra flags]: a replica with its own fixed loopback ports (kept across restarts).
start() {
  local n=$1; shift
  [[ -n ${API[$n]:-} ]] || { API[$n]=$(free_port); CLIENT[$n]=$(free_port); PEER[$n]=$(free_port); FLAGS[$n]="$*"; }
  rm -f "$W/$n/endpoints.json"
  # shellcheck disable=SC2086
  "$CAPSTAN" server --name "$n" --data-dir "$W/$n" \
    --listen-api "127.0.0.1:${API[$n]}" --listen-client "https://127.0.0.1:${CLIENT[$n]}" \
    --listen-peer "127.0.0.1:${PEER[$n]}" --tls-san "$LB_NAME" ${FLAGS[$n]} >>"$W/$n.log" 2>&1 &
  PID[$n]=$!
  for _ in $(seq 300); do [[ -s $W/$n/endpoints.json ]] && return 0; sleep 0.1; done
  fail "$n did not start"
}

ready() { # ready NAME: /readyz answers ok
  for _ in $(seq 300); do
    [[ $(curl -sk "https://127.0.0.1:${API[$1]}/readyz" || true) == ok ]] && return 0
    sleep 0.1
  done
  fail "$1 never became ready"
}

voters() { # voters NAME N: the cluster NAME belongs to has N voters and no learners
  for _ in $(seq 300); do
    local list
    list=$("$CAPSTAN" member list --data-dir "$W/$1" 2>/dev/null || true)
    [[ $(grep -c ', voter,' <<<"$list") == "$2" && $(grep -c ', learner,' <<<"$list") == 0 ]] && return 0
    sleep 0.1
  done
  fail "no $2 voters: $("$CAPSTAN" member list --data-dir "$W/$1" 2>&1)"
}

# kube METHOD PATH [JSON] through the load balancer, by its name (checks --tls-san).
kube() {
  local pki=$W/a/pki
  curl -sS --fail-with-body --resolve "$LB_NAME:$LB_PORT:127.0.0.1" \
    --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "https://$LB_NAME:$LB_PORT$2"
}
configmap() { echo "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$1\"},\"data\":{\"step\":\"$2\"}}"; }

step "first server"
start a
ready a
TOKEN=$(cat "$W/a/pki/token")
JOIN=$(field a peer)

step "two more servers join with the token (3 voters)"
start b --join "$JOIN" --token "$TOKEN"
start c --join "$JOIN" --token "$TOKEN"
voters a 3
ready b; ready c

step "the API behind a load balancer"
python3 "$HERE/loopback-lb.py" "$W/lb.port" "127.0.0.1:${API[a]}" "127.0.0.1:${API[b]}" "127.0.0.1:${API[c]}" >"$W/lb.log" 2>&1 &
LB_PID=$!
for _ in $(seq 100); do [[ -s $W/lb.port ]] && break; sleep 0.1; done
LB_PORT=$(cat "$W/lb.port")
sleep 1 # the first health checks
kube POST /api/v1/namespaces/default/configmaps "$(configmap guide lb)" >/dev/null || fail "create through the load balancer"
for _ in 1 2 3 4 5 6; do kube GET /api/v1/namespaces/default/configmaps/guide >/dev/null || fail "read through the load balancer"; done

step "grow to five"
start d --join "$JOIN" --token "$TOKEN"
start e --join "$JOIN" --token "$TOKEN"
voters a 5

step "rolling upgrade: one replica at a time, writes continuing through the load balancer"
for n in a b c d e; do
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" || fail "$n did not stop cleanly on SIGTERM"
  out=$(kube POST /api/v1/namespaces/default/configmaps "$(configmap "while-$n-down" roll)" 2>&1) \
    || fail "a write failed while $n was down: $out"
  start "$n" # the new binary would go in place here
  ready "$n"
done
voters a 5

step "replace a dead member"
kill -9 "${PID[e]}"; unset 'PID[e]'
E_ID=$(field e member_id)
"$CAPSTAN" member remove "$E_ID" --data-dir "$W/a" >/dev/null || fail "member remove"
voters a 4
start f --join "$JOIN" --token "$TOKEN"
voters a 5
kube POST /api/v1/namespaces/default/configmaps "$(configmap replaced ok)" >/dev/null || fail "write after replacing a member"

step "backup"
"$CAPSTAN" backup "$W/cluster.backup" --data-dir "$W/b" || fail "backup"
"$CAPSTAN" backup verify "$W/cluster.backup" || fail "backup verify"

step "disaster recovery: every replica lost, three new ones from the backup"
for n in a b c d f; do kill -9 "${PID[$n]}"; unset "PID[$n]"; done
SPEC=""
for n in r1 r2 r3; do
  API[$n]=$(free_port); CLIENT[$n]=$(free_port); PEER[$n]=$(free_port)
  SPEC+="${SPEC:+,}$n=127.0.0.1:${PEER[$n]}"
done
for n in r1 r2 r3; do
  "$CAPSTAN" restore "$W/cluster.backup" --data-dir "$W/$n" --name "$n" --initial-cluster "$SPEC" >/dev/null \
    || fail "restore $n"
  FLAGS[$n]="--pki-dir $W/a/pki"
  start "$n"
done
voters r1 3
ready r1; ready r2; ready r3
kill "$LB_PID"
rm -f "$W/lb.port"
python3 "$HERE/loopback-lb.py" "$W/lb.port" "127.0.0.1:${API[r1]}" "127.0.0.1:${API[r2]}" "127.0.0.1:${API[r3]}" >>"$W/lb.log" 2>&1 &
LB_PID=$!
for _ in $(seq 100); do [[ -s $W/lb.port ]] && break; sleep 0.1; done
LB_PORT=$(cat "$W/lb.port")
sleep 1
for name in guide while-e-down replaced; do
  kube GET "/api/v1/namespaces/default/configmaps/$name" >/dev/null || fail "$name missing after recovery"
done
kube POST /api/v1/namespaces/default/configmaps "$(configmap recovered ok)" >/dev/null || fail "write after recovery"
echo "HA guide: every step passed"
