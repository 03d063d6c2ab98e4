#!/usr/bin/env bash
# Kubernetes API benchmarks (issue 6), on 1 and 3 replicas started by capstan-cluster.sh:
#   creates     20,000 ~1 KiB pods, 32 concurrent kube-rs clients (spread over the replicas),
#               and the CPU each replica and the client used per create (creates-cpu)
#   read        get/list latency (JSON, Table, pages of 500) with 10k and then 100k pods stored
#   watch       100 watchers on one namespace, 2,000 creates, delivery latency
#   rss         VmRSS of every replica with 100k pods stored
# Results: one JSON line per scenario on stdout (and appended to $OUT if set).
#   bench/kube.sh [1|3]...      default: 1 3
set -euo pipefail
source "$(dirname "$0")/kubebench-env.sh"
OUT=${OUT:-/dev/null}
sizes=("$@"); [[ ${#sizes[@]} -gt 0 ]] || sizes=(1 3)
emit() { tee -a "$OUT"; }
TCK=$(getconf CLK_TCK)
# CPU time (user + system, in clock ticks) each recorded replica has used so far: "name ticks".
replica_ticks() { while read -r pid name; do echo "$name $(awk '{print $14 + $15}' "/proc/$pid/stat")"; done < "$CAPSTANBENCH_DIR/pids"; }
# CPU seconds (user + system) this shell's finished children have used so far, into variable $1
# (`times` runs in this shell: in a $(...) subshell it would count only the subshell's children).
children_cpu() {
  times > "$CAPSTANBENCH_DIR/times"
  printf -v "$1" '%s' "$(tail -1 "$CAPSTANBENCH_DIR/times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }')"
}
for n in "${sizes[@]}"; do
  bench/capstan-cluster.sh start "$n"
  if [[ $n == 1 ]]; then names=(s1); else names=(c1 c2 c3); fi
  kcs=$(printf "$CAPSTANBENCH_DIR/%s/admin.kubeconfig," "${names[@]}"); kcs=${kcs%,}
  before=$(replica_ticks); children_cpu client0
  "$BENCH" --kubeconfig "$kcs" --scenario creates --pods 20000 --concurrency 32 --namespace creates --label "${n}r" | emit
  # CPU per create: each replica's, summed over the replicas, and the benchmark client's.
  children_cpu client1
  replica_ticks | awk -v before="$before" -v tck="$TCK" -v client="$client1 $client0" -v label="${n}r" '
    BEGIN { n = split(before, b, "\n"); for (i = 1; i <= n; i++) { split(b[i], f, " "); start[f[1]] = f[2] } split(client, c, " ") }
    { us = ($2 - start[$1]) / tck * 1e6 / 20000; per = per sep "\"" $1 "\":" int(us); sep = ","; sum += us }
    END { printf "{\"scenario\":\"creates-cpu\",\"label\":\"%s\",\"server_us_per_create\":%d,\"per_replica_us\":{%s},\"client_us_per_create\":%d}\n", label, sum, per, (c[1] - c[2]) * 1e6 / 20000 }' | emit
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
