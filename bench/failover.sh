#!/usr/bin/env bash
# Leader failover time of capstan (3 replicas) and etcd 3.4 (3 members) on this machine: the time
# from `kill -9` of the leader to the first write acknowledged afterwards.
#
#   bench/failover.sh OUT.jsonl              KILLS kills per system, raw lines appended to OUT.jsonl,
#                                            then a summary table
#   bench/failover.sh summarize OUT.jsonl    the summary table of an existing file
#
# Per system: start a fresh cluster with bench/capstan-cluster.sh or shared/bench/etcd-cluster.sh,
# then KILLS times:
#   1. wait until all 3 replicas are healthy and agree on a leader; map the leader's client port
#      to a PID from the cluster script's pids file (only PIDs started by this run are candidates,
#      and the PID's command line is checked again right before the kill);
#   2. start a writer (Python gRPC, open loop: a Put every 1/RATE s, alternating between the two
#      followers, each with a TIMEOUT deadline) and wait until both followers acknowledge puts;
#   3. the writer kills the leader with SIGKILL and records the monotonic time t_kill, then waits
#      for the first successful Put SENT after t_kill; failover = its ack time - t_kill
#      (resolution 1/RATE; puts already in flight at t_kill do not count, but the first ack of
#      any put after t_kill is recorded too, as first_any_ack_ms);
#   4. restart the killed process with exactly its previous command line (same data dir; log
#      appended to its log file) and record the new PID in the cluster's pids file, so the
#      cluster script's `stop` still stops exactly what was started;
#   5. wait until the cluster is healthy again, then SETTLE seconds.
# A kill without a successful write within GIVEUP seconds counts as a failure (no number).
#
# Env: KILLS (20), SYSTEMS ("capstan etcd"), RATE (puts/s, 200), TIMEOUT (per-put deadline s, 2),
#      GIVEUP (30), SETTLE (2), PY (a python3 with the grpc module; default /usr/bin/python3, from
#      Debian's python3-grpcio), CAPSTANBENCH_DIR / ETCDBENCH_DIR, CAPSTAN_EXTRA_FLAGS /
#      ETCD_EXTRA_FLAGS, SHARED_BENCH (as in cluster.sh).
# Timeouts differ by default: etcd's election timeout is 1000 ms (randomised up to 2x), capstan's is
# 5-10 heartbeats = 500-1000 ms. Equalise with CAPSTAN_EXTRA_FLAGS="--heartbeat-ms 200" (1-2 s) or
# ETCD_EXTRA_FLAGS="--election-timeout 500" if wanted.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shared/bench sits beside the repository's main checkout (beside the checkout a git worktree
# belongs to, too).
SHARED_BENCH=${SHARED_BENCH:-$(dirname "$(dirname "$(git -C "$HERE" rev-parse --path-format=absolute --git-common-dir)")")/shared/bench}
KILLS=${KILLS:-20}
SYSTEMS=${SYSTEMS:-capstan etcd}
RATE=${RATE:-200}
TIMEOUT=${TIMEOUT:-2}
GIVEUP=${GIVEUP:-30}
SETTLE=${SETTLE:-2}
PY=${PY:-/usr/bin/python3}
STARTED=""  # systems whose cluster this run started (the EXIT trap stops only those)
export ETCDCTL_API=3

cluster_of() {
  case "$1" in
    capstan) echo "$HERE/capstan-cluster.sh" ;;
    etcd) echo "$SHARED_BENCH/etcd-cluster.sh" ;;
    *) echo "unknown system $1" >&2; exit 2 ;;
  esac
}
dir_of() {
  case "$1" in
    capstan) echo "${CAPSTANBENCH_DIR:-/tmp/capstanbench}" ;;
    etcd) echo "${ETCDBENCH_DIR:-/tmp/etcdbench}" ;;
  esac
}

# Prints "leader_endpoint follower1,follower2" when every endpoint of $1 answers, all agree on one
# leader among them, and `endpoint health` passes everywhere; prints nothing otherwise.
leader_and_followers() {
  local eps=$1
  etcdctl --endpoints "$eps" --command-timeout 2s endpoint health >/dev/null 2>&1 || return 0
  { etcdctl --endpoints "$eps" --command-timeout 2s endpoint status -w json 2>/dev/null || true; } | python3 -c '
import json, sys
try:
    rows = [(s["Endpoint"], s["Status"]["header"]["member_id"], s["Status"]["leader"]) for s in json.load(sys.stdin)]
except ValueError:
    sys.exit(0)
leaders = {r[2] for r in rows}
if len(rows) == len(sys.argv[1].split(",")) and len(leaders) == 1:
    l = leaders.pop()
    lead = [r[0] for r in rows if r[1] == l]
    if lead:
        print(lead[0], ",".join(r[0] for r in rows if r[1] != l))' "$eps"
}

wait_healthy() { # eps timeout_s -> prints "leader followers"
  local t0=$SECONDS out
  while (( SECONDS - t0 < $2 )); do
    out=$(leader_and_followers "$1")
    [[ -n "$out" ]] && { echo "$out"; return 0; }
    sleep 0.2
  done
  return 1
}

# PID (from the pids file $1) of the process serving client endpoint $2 (HOST:PORT), checked
# against its command line: etcd's --listen-client-urls or capstan's --listen-client.
pid_of_endpoint() {
  local pid name
  while read -r pid name; do
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' < "/proc/$pid/cmdline" \
        | grep -qE -- "--listen-client(-urls)? http://$2( |\$)"; then
      echo "$pid $name"; return 0
    fi
  done < "$1"
  return 1
}

WRITER=$(cat <<'PY'
# Open-loop Put writer; kills the leader and measures the time to the first successful Put.
import json, os, signal, sys, threading, time
import grpc

pid, expect, eps = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
rate, timeout, giveup = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])

def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def put_req(key, val):  # etcdserverpb.PutRequest{key=1, value=2}
    return b"\x0a" + varint(len(key)) + key + b"\x12" + varint(len(val)) + val

chans = [grpc.insecure_channel(ep) for ep in eps]
stubs = [c.unary_unary("/etcdserverpb.KV/Put") for c in chans]  # raw bytes in and out
lock = threading.Lock()
done = threading.Event()
st = {"t_kill": None, "ok_before": [0] * len(eps), "first_ok": None, "first_any": None,
      "errors_after": {}, "sent_after": 0}

def sent(i, t0):
    def cb(fut):
        t1 = time.monotonic()
        err = fut.exception()
        with lock:
            tk = st["t_kill"]
            if err is None:
                if tk is None:
                    st["ok_before"][i] += 1
                elif t1 > tk:
                    if st["first_any"] is None:
                        st["first_any"] = (t1 - tk) * 1000
                    if t0 >= tk and st["first_ok"] is None:
                        st["first_ok"] = ((t1 - tk) * 1000, (t0 - tk) * 1000, eps[i])
                        done.set()
            elif tk is not None and t1 > tk:
                code = err.code().name if hasattr(err, "code") else type(err).__name__
                k = f"{code}: {err.details() if hasattr(err, 'details') else err}"[:160]
                st["errors_after"][k] = st["errors_after"].get(k, 0) + 1
    return cb

def fire(n):
    i = n % len(eps)
    t0 = time.monotonic()
    f = stubs[i].future(put_req(b"failover/%06d" % (n % 1000), b"v" * 64), timeout=timeout)
    f.add_done_callback(sent(i, t0))

n, interval = 0, 1.0 / rate
start = time.monotonic()
nxt = start
# Warm-up: both followers must acknowledge puts (at least 1 s and 10 acks each).
while True:
    fire(n); n += 1
    nxt += interval
    time.sleep(max(0.0, nxt - time.monotonic()))
    with lock:
        warm = min(st["ok_before"]) >= 10
    if warm and time.monotonic() - start >= 1.0:
        break
    if time.monotonic() - start > 15:
        print(json.dumps({"error": "warm-up failed", "ok_before": st["ok_before"]})); sys.exit(3)
cmd = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
if expect not in cmd:
    print(json.dumps({"error": f"pid {pid} is not {expect!r}: {cmd[:200]}"})); sys.exit(4)
with lock:
    st["t_kill"] = time.monotonic()
os.kill(pid, signal.SIGKILL)
wall_kill = time.time()
while not done.is_set() and time.monotonic() - st["t_kill"] < giveup:
    fire(n); n += 1
    with lock:
        st["sent_after"] += 1
    nxt += interval
    time.sleep(max(0.0, nxt - time.monotonic()))
with lock:
    fo = st["first_ok"]
    out = {"wall_kill": round(wall_kill, 3),
           "ms": round(fo[0], 1) if fo else None,
           "first_ok_sent_ms": round(fo[1], 1) if fo else None,
           "first_ok_endpoint": fo[2] if fo else None,
           "first_any_ack_ms": round(st["first_any"], 1) if st["first_any"] is not None else None,
           "puts_sent_after_kill": st["sent_after"],
           "errors_after_kill": st["errors_after"]}
print(json.dumps(out))
os._exit(0)  # do not wait for puts still in flight
PY
)

one_system() { # system out
  local sys=$1 out=$2 cl dir eps lf leader followers pid name argv k res newpid
  cl=$(cluster_of "$sys"); dir=$(dir_of "$sys")
  "$cl" start 3 >/dev/null || return 1
  STARTED+=" $sys"
  eps=$("$cl" endpoints) || return 1
  for k in $(seq 1 "$KILLS"); do
    lf=$(wait_healthy "$eps" 60) || { echo "# $sys: cluster not healthy within 60 s before kill $k; see $dir/*.log" >&2; return 1; }
    read -r leader followers <<< "$lf"
    read -r pid name < <(pid_of_endpoint "$dir/pids" "$leader") \
      || { echo "# $sys: no recorded PID serves leader $leader" >&2; return 1; }
    mapfile -t -d '' argv < "/proc/$pid/cmdline"
    res=$("$PY" -c "$WRITER" "$pid" "--name $name " "$followers" "$RATE" "$TIMEOUT" "$GIVEUP") \
      || { echo "# $sys kill $k: writer failed: $res" >&2; return 1; }
    # Restart the killed process on its data dir with the same command line.
    for _ in $(seq 1 50); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    nohup "${argv[@]}" >> "$dir/$name.log" 2>&1 < /dev/null &
    newpid=$!
    sed -i "s/^$pid $name\$/$newpid $name/" "$dir/pids"
    lf=$(wait_healthy "$eps" 60) || lf="- -"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r = dict(system=sys.argv[2], kill=int(sys.argv[3]), killed=sys.argv[4], killed_pid=int(sys.argv[5]),
         new_leader=sys.argv[6], restarted_pid=int(sys.argv[7]), **r)
print(json.dumps(r))' "$res" "$sys" "$k" "$name" "$pid" "${lf%% *}" "$newpid" | tee -a "$out" >&2
    [[ "$lf" != "- -" ]] || { echo "# $sys: not healthy within 60 s after restarting $name; see $dir/*.log" >&2; return 1; }
    sleep "$SETTLE"
  done
  "$cl" stop >/dev/null
}

summarize() {
  python3 - "$1" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| system | kills | failed (no write within GIVEUP) | min ms | p50 ms | p90 ms | max ms | within 1 s |")
print("|---|---|---|---|---|---|---|---|")
for sys_ in dict.fromkeys(r["system"] for r in rows):
    rs = [r for r in rows if r["system"] == sys_]
    v = sorted(r["ms"] for r in rs if r.get("ms") is not None)
    q = lambda p: f"{v[max(0, math.ceil(p * len(v)) - 1)]:,.0f}" if v else "–"  # nearest rank
    print(f'| {sys_} | {len(rs)} | {len(rs) - len(v)} | {q(0)} | {q(.5)} | {q(.9)} | {q(1)} '
          f'| {sum(x <= 1000 for x in v)}/{len(rs)} |')
for sys_ in dict.fromkeys(r["system"] for r in rows):
    print(f'\n{sys_} raw ms, in kill order: ' + ", ".join(
        "fail" if r.get("ms") is None else f'{r["ms"]:.0f}' for r in rows if r["system"] == sys_))
errs = {}
for r in rows:
    for k, n in (r.get("errors_after_kill") or {}).items():
        errs.setdefault(r["system"], {}).setdefault(k, 0)
        errs[r["system"]][k] += n
for s, e in errs.items():
    print(f"\n{s}: errors seen by the writer after the kills (all kills): " +
          "; ".join(f"{n}× {k}" for k, n in sorted(e.items(), key=lambda kv: -kv[1])[:5]))
PY
}

stop_all() { # on exit: stop whatever cluster is still recorded (only PIDs this run started)
  local s
  for s in $STARTED; do "$(cluster_of "$s")" stop >/dev/null 2>&1 || true; done
}

run() {
  local out=$1 sys
  "$PY" -c 'import grpc' 2>/dev/null || { echo "$PY has no grpc module: apt-get install -y python3-grpcio" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  trap stop_all EXIT
  for sys in $SYSTEMS; do
    echo "# $sys: $KILLS kills" >&2
    one_system "$sys" "$out" || { echo "# $sys: aborted" >&2; "$(cluster_of "$sys")" stop >/dev/null 2>&1 || true; }
  done
  summarize "$out"
}

case "${1:-}" in
  summarize) summarize "${2:?jsonl file}" ;;
  ""|-h|--help) sed -n '2,32p' "$0"; exit 2 ;;
  *) run "$1" ;;
esac
