#!/usr/bin/env bash
# Scheduler benchmarks (issue 18).
#   cycle      the scheduling cycle alone, in process, cache warm (cyclebench): decisions/s
#              over 5,000 nodes in 3 zones for 10,000 pods — plain, spread (required
#              anti-affinity + zone topology spread), preemption (every pod must preempt)
#   e2e 1|3 [plain|spread]
#              end to end on 1 or 3 replicas started by capstan-cluster.sh: 5,000 nodes,
#              then (a) the raw `pods/binding` write rate: 10,000 pending pods bound by 32
#              kube-rs clients with the scheduler off; (b) 10,000 more pending pods created
#              with the scheduler off, the replicas restarted with it on, and the pods bound
#              per second from the first bind to the last; the ratio b/a (goal >= 0.9).
#              `spread` makes (b)'s pods as cyclebench's spread scenario does (preemption
#              end to end needs a node agent to finish the victims' deletion)
# Results: one JSON line per measurement on stdout (and appended to $OUT if set).
#   bench/scheduler.sh [cycle] [e2e 1 [spread]] [e2e 3 [spread]]
#                                            default: cycle, e2e 1, e2e 3 (plain)
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
SB="$CARGO_TARGET_DIR/release/examples/schedbench"
CB="$CARGO_TARGET_DIR/release/examples/cyclebench"
[[ -x "$SB" && -x "$CB" ]] || cargo build --release --workspace --examples --features capstan/fault-injection >&2
OUT=${OUT:-/dev/null}
NODES=${NODES:-5000} PODS=${PODS:-10000}
emit() { tee -a "$OUT"; }
args=("$@"); [[ ${#args[@]} -gt 0 ]] || args=(cycle e2e 1 e2e 3)
e2e() {
  local size=$1 shape=${2:-plain} names kcs
  if [[ $size == 1 ]]; then names=(s1); else names=(c1 c2 c3); fi
  kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," "${names[@]}"); kcs=${kcs%,}
  CAPSTAN_EXTRA_FLAGS="--disable-scheduler" bench/capstan-cluster.sh start "$size"
  "$SB" --kubeconfig "$kcs" --scenario nodes --nodes "$NODES" --label "${size}r" | emit
  "$SB" --kubeconfig "$kcs" --scenario pods --pods "$PODS" --namespace raw --label "${size}r" | emit
  raw=$("$SB" --kubeconfig "$kcs" --scenario bind --nodes "$NODES" --namespace raw --label "${size}r")
  echo "$raw" | emit
  "$SB" --kubeconfig "$kcs" --scenario pods --pods "$PODS" --namespace sched --shape "$shape" --label "${size}r-$shape" | emit
  bench/capstan-cluster.sh stop
  KEEP_DATA=1 CAPSTAN_EXTRA_FLAGS="" bench/capstan-cluster.sh start "$size"
  sched=$("$SB" --kubeconfig "$kcs" --scenario wait --pods "$PODS" --namespace sched --label "${size}r-$shape")
  echo "$sched" | emit
  bench/capstan-cluster.sh stop
  python3 -c '
import json, sys
raw, sched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
r, s = raw["result"]["binds_per_s"], sched["result"]["binds_per_s"]
print(json.dumps({"scenario": "sched-vs-raw-binds", "label": sys.argv[3], "raw_binds_per_s": r, "scheduler_binds_per_s": s, "ratio": round(s / r, 2)}))' "$raw" "$sched" "${size}r-$shape" | emit
}
i=0
while [[ $i -lt ${#args[@]} ]]; do
  case ${args[$i]} in
    cycle)
      for s in plain spread preemption; do
        pods=$PODS; [[ $s == preemption ]] && pods=$((PODS / 5))
        "$CB" --nodes "$NODES" --pods "$pods" --scenario "$s" | emit
      done ;;
    e2e)
      i=$((i + 1)); size=${args[$i]}
      if [[ "${args[$((i + 1))]:-}" == plain || "${args[$((i + 1))]:-}" == spread ]]; then
        i=$((i + 1)); e2e "$size" "${args[$i]}"
      else
        e2e "$size"
      fi ;;
    *) echo "unknown part ${args[$i]}" >&2; exit 2 ;;
  esac
  i=$((i + 1))
done
