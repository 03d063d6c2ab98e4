#!/usr/bin/env bash
# How far the storage layer alone goes on this machine, next to pod creates through REST: on
# fresh 3-member clusters, one after the other,
#   etcd      etcd 3.4 (shared/bench/etcd-cluster.sh), kvload puts of new keys with values the
#             size of a stored pod (2,270 bytes: a ~1 KiB pod with defaults and managed fields)
#   capstan   the same kvload puts through capstan's etcd API
#   creates   capstan's pod creates through REST (bench/kube-creates-ab.sh's scenario)
# each with 32 concurrent clients spread over the members, 20,000 writes. Prints one JSON line
# per run: rate, latency and CPU per write (every server process summed, and the client).
#   bench/creates-ceiling.sh [REPS]
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
# shared/bench sits beside the repository's main checkout (beside the checkout a git worktree
# belongs to, too).
SHARED_BENCH=${SHARED_BENCH:-$(dirname "$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")")/shared/bench}
KVLOAD=${KVLOAD:-/tmp/kvload-target/release/kvload}
export ETCDBENCH_DIR=${ETCDBENCH_DIR:-/tmp/etcdbench}
REPS=${1:-1}
N=20000
VAL=2270
TCK=$(getconf CLK_TCK)
ticks() { local t=0; for p in $(awk '{print $1}' "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }

# run NAME PIDFILE COMMAND...: runs the client command, prints its JSON with CPU per write added.
run() {
  local name=$1 pids=$2; shift 2
  local before after client out
  before=$(ticks "$pids")
  client=$( { /usr/bin/time -f "%U %S" "$@" >"$CAPSTANBENCH_DIR/ceiling.json"; } 2>&1 | tail -1)
  after=$(ticks "$pids")
  out=$(tail -1 "$CAPSTANBENCH_DIR/ceiling.json")
  awk -v b="$before" -v a="$after" -v tck="$TCK" -v c="$client" -v n=$N -v name="$name" -v out="$out" \
    'BEGIN { split(c, u, " "); printf "{\"system\":\"%s\",\"server_us_per_write\":%d,\"client_us_per_write\":%d,\"run\":%s}\n", name, (a - b) / tck * 1e6 / n, (u[1] + u[2]) * 1e6 / n, out }'
}

for _ in $(seq "$REPS"); do
  "$SHARED_BENCH/etcd-cluster.sh" start 3 >/dev/null 2>&1
  run etcd "$ETCDBENCH_DIR/pids" "$KVLOAD" --endpoints "$("$SHARED_BENCH/etcd-cluster.sh" endpoints)" \
    --conns 8 --clients 32 put --total $N --val-size $VAL --key-space $N --seq-keys
  "$SHARED_BENCH/etcd-cluster.sh" stop >/dev/null 2>&1

  bench/capstan-cluster.sh start 3 >/dev/null 2>&1
  run capstan "$CAPSTANBENCH_DIR/pids" "$KVLOAD" --endpoints "$(bench/capstan-cluster.sh endpoints)" \
    --conns 8 --clients 32 put --total $N --val-size $VAL --key-space $N --seq-keys
  kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," c1 c2 c3)
  run creates "$CAPSTANBENCH_DIR/pids" "$BENCH" --kubeconfig "${kcs%,}" --scenario creates \
    --pods $N --concurrency 32 --namespace creates --label creates
  bench/capstan-cluster.sh stop >/dev/null 2>&1
done
