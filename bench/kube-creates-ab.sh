#!/usr/bin/env bash
# Pod creates through REST (the `creates` scenario of bench/kube.sh: 20,000 ~1 KiB pods, 32
# concurrent kube-rs clients) run against each given capstan binary in turn, on fresh clusters
# of N replicas, for side-by-side comparisons of two builds in one run:
#   bench/kube-creates-ab.sh N BINARY...
# Prints, per binary, the scenario's JSON line and the CPU used per create: by every replica
# summed, and by the client.
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
PODS=20000
n=$1; shift
if [[ $n == 1 ]]; then names=(s1); else names=(c1 c2 c3); fi
TCK=$(getconf CLK_TCK)
ticks() { local t=0; for p in $(awk '{print $1}' "$CAPSTANBENCH_DIR/pids"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
for bin in "$@"; do
  CAPSTAN_BIN=$bin bench/capstan-cluster.sh start "$n" >/dev/null 2>&1
  kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," "${names[@]}"); kcs=${kcs%,}
  before=$(ticks)
  client=$( { /usr/bin/time -f "%U %S" "$BENCH" --kubeconfig "$kcs" --scenario creates --pods $PODS \
      --concurrency 32 --namespace creates --label "$bin" >"$CAPSTANBENCH_DIR/ab.json"; } 2>&1 | tail -1)
  after=$(ticks)
  cat "$CAPSTANBENCH_DIR/ab.json"
  awk -v b="$before" -v a="$after" -v tck="$TCK" -v c="$client" -v bin="$bin" -v pods=$PODS \
    'BEGIN { split(c, u, " "); printf "{\"binary\":\"%s\",\"server_us_per_create\":%d,\"client_us_per_create\":%d}\n", bin, (a - b) / tck * 1e6 / pods, (u[1] + u[2]) * 1e6 / pods }'
  bench/capstan-cluster.sh stop >/dev/null 2>&1
done
