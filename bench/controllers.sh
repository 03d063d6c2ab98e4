#!/usr/bin/env bash
# Controller manager benchmarks (issue 17), on 3 replicas started by capstan-cluster.sh:
#   raw        10,000 ~1 KiB pod creates by 32 concurrent kube-rs clients (kubebench creates),
#              the API's own rate in this run
#   scale      a Deployment scaled 0 -> 10,000: pods created per second by the controllers,
#              then the ratio to raw (goal >= 0.8)
#   rss        VmRSS of every replica, the leader's informers warm, with 100k pods stored
#              (goal: leader <= 1.5 GiB)
#   failover   20 rounds of kill -9 of the leader while it scales up; time from the kill to
#              the first pod the new leader's controllers create (goal: max < 1 s), and to
#              the first write the new leader acknowledged
# Results: one JSON line per scenario on stdout (and appended to $OUT if set).
#   bench/controllers.sh [raw-scale|rss|failover]...     default: all three
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
CTL="$CARGO_TARGET_DIR/release/examples/controllerbench"
[[ -x "$CTL" ]] || cargo build --release --example controllerbench --features capstan/fault-injection >&2
OUT=${OUT:-/dev/null}
parts=("$@"); [[ ${#parts[@]} -gt 0 ]] || parts=(raw-scale rss failover)
emit() { tee -a "$OUT"; }
names=(c1 c2 c3)
kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," "${names[@]}"); kcs=${kcs%,}
for part in "${parts[@]}"; do
  bench/capstan-cluster.sh start 3
  case $part in
    raw-scale)
      raw=$("$BENCH" --kubeconfig "$kcs" --scenario creates --pods 10000 --concurrency 32 --namespace raw --label 3r)
      echo "$raw" | emit
      scale=$("$CTL" --kubeconfig "$kcs" --scenario scale --pods 10000 --namespace scale --label 3r)
      echo "$scale" | emit
      python3 -c '
import json, sys
raw, scale = json.loads(sys.argv[1]), json.loads(sys.argv[2])
r, s = raw["result"]["creates_per_s"], scale["result"]["pods_per_s"]
print(json.dumps({"scenario": "scale-vs-raw", "label": "3r", "raw_creates_per_s": round(r), "controller_pods_per_s": round(s), "ratio": round(s / r, 2)}))' "$raw" "$scale" | emit
      ;;
    rss)
      "$CTL" --kubeconfig "$kcs" --scenario scale --pods 10000 --namespace scale --label 3r >/dev/null
      "$BENCH" --kubeconfig "$kcs" --scenario fill --pods 90000 --concurrency 32 --namespace fill --label 3r >/dev/null
      sleep 10
      # capstan-cluster.sh's client ports: c1 4379, c2 24379, c3 34379.
      case $(bench/capstan-cluster.sh leader) in
        *:4379) leader=c1 ;; *:24379) leader=c2 ;; *) leader=c3 ;;
      esac
      while read -r pid name; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
        role=follower; [[ $name == "$leader" ]] && role=leader
        echo "{\"scenario\":\"rss\",\"label\":\"3r-100k\",\"replica\":\"$name\",\"role\":\"$role\",\"rss_mib\":$((rss / 1024))}" | emit
      done < "$CAPSTANBENCH_DIR/pids"
      ;;
    failover)
      "$CTL" --kubeconfig "$kcs" --names "$(IFS=,; echo "${names[*]}")" --pids "$CAPSTANBENCH_DIR/pids" \
        --scenario failover --rounds 20 --pods 100 --namespace failover --label 3r | emit
      ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
  esac
  bench/capstan-cluster.sh stop
done
