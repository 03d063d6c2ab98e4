#!/usr/bin/env bash
# Kubernetes API benchmarks (issue 6), on 1 and 3 replicas started by capstan-cluster.sh:
#   creates     20,000 ~1 KiB pods, 32 concurrent kube-rs clients (spread over the replicas)
#   read        get/list latency (JSON, Table, pages of 500) with 10k and then 100k pods stored
#   watch       100 watchers on one namespace, 2,000 creates, delivery latency
#   rss         VmRSS of every replica with 100k pods stored
# Results: one JSON line per scenario on stdout (and appended to $OUT if set).
#   bench/kube.sh [1|3]...      default: 1 3
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
BENCH="$CARGO_TARGET_DIR/release/examples/kubebench"
[[ -x "$BENCH" ]] || cargo build --release --example kubebench --features capstan/fault-injection >&2
export CAPSTANBENCH_DIR=${CAPSTANBENCH_DIR:-/tmp/capstanbench-kube}
OUT=${OUT:-/dev/null}
sizes=("$@"); [[ ${#sizes[@]} -gt 0 ]] || sizes=(1 3)
emit() { tee -a "$OUT"; }
for n in "${sizes[@]}"; do
  bench/capstan-cluster.sh start "$n"
  if [[ $n == 1 ]]; then names=(s1); else names=(c1 c2 c3); fi
  kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," "${names[@]}"); kcs=${kcs%,}
  "$BENCH" --kubeconfig "$kcs" --scenario creates --pods 20000 --concurrency 32 --namespace creates --label "${n}r" | emit
  "$BENCH" --kubeconfig "$kcs" --scenario fill --pods 10000 --concurrency 32 --namespace fill --label "${n}r" >/dev/null
  "$BENCH" --kubeconfig "$kcs" --scenario read --namespace fill --samples 20 --label "${n}r-10k" | emit
  "$BENCH" --kubeconfig "$kcs" --scenario watch --watchers 100 --pods 2000 --namespace fanout --label "${n}r" | emit
  "$BENCH" --kubeconfig "$kcs" --scenario fill --pods 90000 --concurrency 32 --namespace fill2 --label "${n}r" >/dev/null
  # 100k pods stored in all; the list is of one namespace holding 90k, plus a 10k one.
  "$BENCH" --kubeconfig "$kcs" --scenario read --namespace fill2 --samples 5 --label "${n}r-90k-ns" | emit
  while read -r pid name; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    echo "{\"scenario\":\"rss\",\"label\":\"${n}r-100k\",\"replica\":\"$name\",\"rss_mib\":$((rss / 1024))}" | emit
  done < "$CAPSTANBENCH_DIR/pids"
  bench/capstan-cluster.sh stop
done
