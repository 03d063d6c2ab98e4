#!/usr/bin/env bash
# How long a replica takes to stop on SIGTERM. tests/cluster.rs checks that it exits 0, and that
# a leader hands leadership over first; how long that takes is this figure. On a fresh 3-replica
# cluster (bench/capstan-cluster.sh): SIGTERM the leader, wait until the other two agree on a new
# one, then SIGTERM a follower; each stop is timed from the signal until the process is gone.
# Prints one JSON line per stop.
#   bench/sigterm.sh [REPS]     (default 3; CAPSTANBENCH_DIR and CAPSTAN_BIN as capstan-cluster.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER="$HERE/capstan-cluster.sh"
DIR=${CAPSTANBENCH_DIR:-/tmp/capstanbench}
REPS=${1:-3}
GIVEUP=120
trap '"$CLUSTER" stop >/dev/null 2>&1 || true' EXIT

# "PID name" (from the cluster's pids file) of the replica serving client endpoint $1 (HOST:PORT).
pid_of() {
  local pid name
  while read -r pid name; do
    if tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qE -- "--listen-client http://$1( |\$)"; then
      echo "$pid $name"; return 0
    fi
  done < "$DIR/pids"
  return 1
}

# Whether PID $1 is still running (a zombie has an empty command line).
alive() { tr -d '\0' 2>/dev/null < "/proc/$1/cmdline" | grep -q .; }

# stop REP ROLE ENDPOINT: SIGTERM the replica at ENDPOINT and time it until it is gone.
stop() {
  local pid name t0 ms handed
  read -r pid name < <(pid_of "$3") || { echo "no recorded PID serves $3" >&2; return 1; }
  t0=$(date +%s%N)
  kill -TERM "$pid"
  while alive "$pid"; do
    if (( ($(date +%s%N) - t0) / 1000000000 >= GIVEUP )); then
      echo "$name did not exit within $GIVEUP s of SIGTERM; sending SIGKILL" >&2
      kill -9 "$pid"
      break
    fi
    sleep 0.01
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  handed=false
  grep -q "handed leadership over" "$DIR/$name.log" && handed=true
  printf '{"rep":%d,"role":"%s","replica":"%s","ms":%d,"handed_leadership_over":%s}\n' \
    "$1" "$2" "$name" "$ms" "$handed"
}

for rep in $(seq "$REPS"); do
  "$CLUSTER" start 3 >/dev/null 2>&1
  leader=$("$CLUSTER" leader)
  stop "$rep" leader "$leader"
  new=""
  for _ in $(seq 300); do
    new=$("$CLUSTER" leader)
    [[ -n "$new" ]] && break
    sleep 0.2
  done
  [[ -n "$new" ]] || { echo "no new leader after the leader stopped; see $DIR/*.log" >&2; exit 1; }
  follower=$(tr ',' '\n' < <("$CLUSTER" endpoints) | grep -vxF -e "$leader" -e "$new" | head -1)
  stop "$rep" follower "$follower"
  "$CLUSTER" stop >/dev/null
done
