#!/usr/bin/env bash
# Node agent benchmarks (issue 19), on a 1-replica server started by capstan-cluster.sh.
#   start   pod start latency: $PODS (100) pods created by 8 clients, placed by the scheduler on
#           one `capstan node` (process runtime: each pod's container is a host process), each
#           timed from just before its create to the watch event showing it Running: p50/p99
#           (goal p99 <= 1 s without image pulls; Kubernetes' SLO is 5 s)
#   start-sandbox   the same on the sandbox runtime (root): each pod its namespaces, bridge
#           address and cgroups, its container on the host's filesystem (no registry)
#   start-image     the same, each container in an image imported beforehand
#           (bench/busybox-image.sh: busybox-static in one layer)
#   sim     $SIM_NODES (500) simulated nodes in one `capstan node --sim` process running
#           $SIM_PODS (10000) pods: start latency, then $STEADY_S (60) s of steady state with
#           every Lease renewed each 10 s: NotReady nodes seen, the agent's RSS, heartbeat
#           writes/s and the server's CPU seconds per second
# Results: one JSON line per measurement on stdout (and appended to $OUT if set).
#   bench/node.sh [start] [start-sandbox] [start-image] [sim]     default: start and sim
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
PB="$CARGO_TARGET_DIR/release/examples/podbench"
[[ -x "$PB" ]] || cargo build --release --workspace --examples --features capstan/fault-injection >&2
OUT=${OUT:-/dev/null}
PODS=${PODS:-100} SIM_NODES=${SIM_NODES:-500} SIM_PODS=${SIM_PODS:-10000} STEADY_S=${STEADY_S:-60}
BIN="$CARGO_TARGET_DIR/release/capstan"
KC="$CAPSTANBENCH_DIR/s1/admin.kubeconfig"
emit() { tee -a "$OUT"; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
agent=""
cleanup() { [[ -n "$agent" ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null; bench/capstan-cluster.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
args=("$@"); [[ ${#args[@]} -gt 0 ]] || args=(start sim)
for what in "${args[@]}"; do
  # The default cluster CIDR (10.244.0.0/16) holds 256 node ranges of /24; the simulated
  # nodes need more.
  CAPSTAN_EXTRA_FLAGS="--cluster-cidr 100.64.0.0/10" bench/capstan-cluster.sh start 1
  server=$(bench/capstan-cluster.sh pids | head -1)
  case $what in
    start|start-sandbox|start-image)
      runtime=process image=busybox
      [[ $what == start ]] || runtime=sandbox
      rm -rf "$CAPSTANBENCH_DIR/node"
      if [[ $what == start-image ]]; then
        bench/busybox-image.sh "$CAPSTANBENCH_DIR/busybox.tar"
        "$BIN" node image import "$CAPSTANBENCH_DIR/busybox.tar" --data-dir "$CAPSTANBENCH_DIR/node" >&2
        image=bench.test/busybox:1
      fi
      "$BIN" node --name bench-node --kubeconfig "$KC" --data-dir "$CAPSTANBENCH_DIR/node" \
        --runtime "$runtime" --registry '*=none' \
        --max-pods $((PODS + 10)) 2>"$CAPSTANBENCH_DIR/node.log" &
      agent=$!
      sleep 2
      "$PB" --kubeconfig "$KC" --pods "$PODS" --namespace start --image "$image" \
        --label "$what-1node" | emit ;;
    sim)
      "$BIN" node --name sim --sim "$SIM_NODES" --kubeconfig "$KC" --data-dir "$CAPSTANBENCH_DIR/sim" \
        2>"$CAPSTANBENCH_DIR/sim.log" &
      agent=$!
      until [[ $(kubectl --kubeconfig "$KC" get nodes --no-headers 2>/dev/null | wc -l) -ge $SIM_NODES ]]; do sleep 1; done
      "$PB" --kubeconfig "$KC" --pods "$SIM_PODS" --concurrency 32 --namespace sim --label "sim-${SIM_NODES}nodes" | emit
      rev0=$(kubectl --kubeconfig "$KC" get --raw /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?limit=1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
      c0=$(cpu_s "$server"); t0=$(date +%s.%N); notready=0
      end=$((SECONDS + STEADY_S))
      while [[ $SECONDS -lt $end ]]; do
        n=$(kubectl --kubeconfig "$KC" get nodes --no-headers | grep -vc " Ready " || true)
        [[ $n -gt $notready ]] && notready=$n
        sleep 5
      done
      c1=$(cpu_s "$server"); t1=$(date +%s.%N)
      rev1=$(kubectl --kubeconfig "$KC" get --raw /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?limit=1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
      python3 -c '
import json, sys
nodes, pods, rss, notready, rev0, rev1, c0, c1, t0, t1 = sys.argv[1:]
secs = float(t1) - float(t0)
print(json.dumps({"scenario": "sim-steady", "nodes": int(nodes), "pods": int(pods),
  "result": {"max_not_ready_nodes": int(notready), "agent_rss_mib": round(int(rss) / 1024, 1),
             "writes_per_s": round((int(rev1) - int(rev0)) / secs, 1),
             "server_cpu_s_per_s": round((float(c1) - float(c0)) / secs, 3), "seconds": round(secs)}}))' \
        "$SIM_NODES" "$SIM_PODS" "$rss" "$notready" "$rev0" "$rev1" "$c0" "$c1" "$t0" "$t1" | emit ;;
    *) echo "unknown: $what" >&2; exit 2 ;;
  esac
  kill -TERM "$agent"; wait "$agent" 2>/dev/null || true; agent=""
  bench/capstan-cluster.sh stop
done
