#!/usr/bin/env bash
# Start/stop a local capstan cluster on 127.0.0.1 for benchmarking. Same interface and behaviour
# as shared/bench/etcd-cluster.sh, so it can be plugged into run-baseline.sh as CLUSTER=...
#
#   capstan-cluster.sh start [3|1]   start a fresh 3-replica (default) or 1-replica cluster
#   capstan-cluster.sh stop          stop exactly the PIDs recorded by `start`
#   capstan-cluster.sh status        show recorded PIDs and endpoint status
#   capstan-cluster.sh endpoints     print the client endpoints of the running cluster (leader first)
#   capstan-cluster.sh pids          print the recorded PIDs (one per line)
#   capstan-cluster.sh leader        print the client endpoint of the current leader
#
# Layout (override the root with CAPSTANBENCH_DIR, default /tmp/capstanbench):
#   3 replicas: c1 client 4379 / peer 4380, c2 24379/24380, c3 34379/34380
#   1 replica : s1 client 14379 / peer 14380        (etcd-cluster.sh uses 2379.., 12379..)
#   Kubernetes API: client port + 64 (4443, 24443, 34443; 14443), kubeconfig in each data dir
#   binary   : $CAPSTANBENCH_DIR/capstan, a private copy of $CAPSTAN_BIN made by `start`
#              (default ${CARGO_TARGET_DIR:-~/.cache/capstan-target}/release/capstan), so a
#              rebuild during a run does not change the server under test
#   data dirs: $CAPSTANBENCH_DIR/<name>, shared PKI (CA for the raft TLS): $CAPSTANBENCH_DIR/pki
#   logs     : $CAPSTANBENCH_DIR/<name>.log (stderr of the replica; RUST_LOG is passed through)
#   PIDs     : $CAPSTANBENCH_DIR/pids  (one "pid name" per line)
#   endpoints: $CAPSTANBENCH_DIR/endpoints
# Client URLs are plaintext (http://), like etcd-cluster.sh. `start` wipes the data dirs of the
# replicas it starts and the PKI (KEEP_DATA=1 keeps them), waits until every replica is healthy
# and agrees on a leader, and prints nothing on stdout (one summary line goes to stderr).
# Extra `capstan server` flags can be passed in CAPSTAN_EXTRA_FLAGS.
#
# Leader placement: etcd-cluster.sh moves leadership to its first endpoint. capstan has no
# move-leader yet, so instead `start` writes the endpoints file with the elected leader FIRST
# (then the followers in name order). kvload's connection 0 (and run-baseline.sh's metrics probe)
# therefore goes to the leader, exactly as with etcd's pinned leader; the leader is simply not
# always c1. The order is fixed at start; `leader` always asks the cluster.
set -euo pipefail

ETCDCTL=${ETCDCTL:-etcdctl}
export ETCDCTL_API=3
CAPSTAN_BIN=${CAPSTAN_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}/release/capstan}
DIR=${CAPSTANBENCH_DIR:-/tmp/capstanbench}
BIN="$DIR/capstan"
PIDS="$DIR/pids"
EPS="$DIR/endpoints"
HOST=127.0.0.1

members() { # prints: name client_port peer_port
  if [[ "$1" == 1 ]]; then
    echo "s1 14379 14380"
  else
    echo "c1 4379 4380"; echo "c2 24379 24380"; echo "c3 34379 34380"
  fi
}

# One line per endpoint: "endpoint member_id_hex leader_id_hex" (endpoints that do not answer are
# left out).
ep_status() {
  "$ETCDCTL" --endpoints "$1" --command-timeout 2s endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    st = s["Status"]
    print(s["Endpoint"], format(st["header"]["member_id"], "x"), format(st["leader"], "x"))' || true
}

# Prints the endpoints, leader first, once every endpoint answers, all agree on one leader that is
# one of them, and `endpoint health` (a linearizable get) passes everywhere; prints nothing otherwise.
leader_first() {
  local eps=$1 n
  n=$(tr ',' '\n' <<< "$eps" | wc -l)
  "$ETCDCTL" --endpoints "$eps" --command-timeout 2s endpoint health >/dev/null 2>&1 || return 0
  ep_status "$eps" | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
n = int(sys.argv[1])
leaders = {r[2] for r in rows}
ids = {r[1]: r[0] for r in rows}
if len(rows) == n and len(leaders) == 1 and (l := leaders.pop()) in ids:
    print(",".join([ids[l]] + [r[0] for r in rows if r[1] != l]))' "$n"
}

start() {
  local n=${1:-3}
  [[ "$n" == 1 || "$n" == 3 ]] || { echo "size must be 1 or 3" >&2; exit 2; }
  if [[ -s "$PIDS" ]]; then
    echo "a cluster is already recorded in $PIDS; run '$0 stop' first" >&2; exit 1
  fi
  [[ -x "$CAPSTAN_BIN" ]] || { echo "no capstan binary at $CAPSTAN_BIN (set CAPSTAN_BIN)" >&2; exit 1; }
  mkdir -p "$DIR"
  # Private copy of the binary (skipped when size and mtime already match: it is ~0.5 GB).
  if [[ "$(stat -c '%s %Y' "$CAPSTAN_BIN")" != "$(stat -c '%s %Y' "$BIN" 2>/dev/null)" ]]; then
    cp -p "$CAPSTAN_BIN" "$BIN.tmp" && mv -f "$BIN.tmp" "$BIN"
  fi
  local initial="" eps="" name cport pport
  while read -r name cport pport; do
    initial+="${initial:+,}$name=$HOST:$pport"
    eps+="${eps:+,}$HOST:$cport"
  done < <(members "$n")
  [[ "${KEEP_DATA:-0}" == 1 ]] || rm -rf "$DIR/pki"
  : > "$PIDS"
  while read -r name cport pport; do
    [[ "${KEEP_DATA:-0}" == 1 ]] || rm -rf "${DIR:?}/$name"
    # shellcheck disable=SC2086
    nohup "$BIN" server --name "$name" --data-dir "$DIR/$name" --pki-dir "$DIR/pki" \
      --listen-client "http://$HOST:$cport" --listen-peer "$HOST:$pport" \
      --listen-api "$HOST:$((cport + 64))" \
      --initial-cluster "$initial" \
      ${CAPSTAN_EXTRA_FLAGS:-} > "$DIR/$name.log" 2>&1 < /dev/null &
    echo "$! $name" >> "$PIDS"
  done < <(members "$n")
  local ordered=""
  for _ in $(seq 1 150); do
    ordered=$(leader_first "$eps")
    [[ -n "$ordered" ]] && break
    sleep 0.2
  done
  [[ -n "$ordered" ]] || { echo "cluster did not become healthy with a leader; see $DIR/*.log" >&2; exit 1; }
  echo "$ordered" > "$EPS"
  echo "capstan ($n replica(s)) healthy; endpoints (leader first): $ordered; pids in $PIDS" >&2
}

leader() {
  ep_status "$(cat "$EPS")" | awk '$2 == $3 {print $1}'
}

# Is PID $1 still the replica $2 that we started (guards against PID reuse)?
is_ours() {
  [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$BIN server --name $2 "
}

stop() {
  [[ -s "$PIDS" ]] || { echo "no recorded cluster ($PIDS empty or missing)"; return 0; }
  local pid name
  # One replica at a time, in start order (c1 first). A stopping leader hands leadership over to
  # a live peer on SIGTERM.
  while read -r pid name; do
    if is_ours "$pid" "$name"; then
      kill "$pid"
      for _ in $(seq 1 100); do is_ours "$pid" "$name" || break; sleep 0.1; done
      if is_ours "$pid" "$name"; then
        echo "pid $pid ($name) did not exit within 10 s of SIGTERM; sending SIGKILL" >&2
        kill -9 "$pid"
      fi
    fi
    echo "stopped $name (pid $pid)"
  done < "$PIDS"
  rm -f "$PIDS" "$EPS"
}

status() {
  [[ -s "$PIDS" ]] || { echo "no recorded cluster"; return 0; }
  cat "$PIDS"
  "$ETCDCTL" --endpoints "$(cat "$EPS")" endpoint status -w table || true
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  stop) stop ;;
  status) status ;;
  endpoints) cat "$EPS" ;;
  pids) awk '{print $1}' "$PIDS" ;;
  leader) leader ;;
  *) sed -n '2,31p' "$0"; exit 2 ;;
esac
