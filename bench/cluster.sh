#!/usr/bin/env bash
# Side-by-side benchmark of capstan and etcd 3.4 on this machine, with the scenario matrix of
# shared/bench/ETCD_BASELINE.md. Every run gets a freshly started cluster; the scenarios of one
# repetition alternate between the two systems (capstan, etcd, then etcd, capstan in the next
# repetition), so background load on the shared machine hits both alike.
#
#   bench/cluster.sh OUT.jsonl              run the matrix REPS times, append raw JSON lines to
#                                           OUT.jsonl, then print the comparison table
#   bench/cluster.sh summarize OUT.jsonl    print the comparison table of an existing file
#
# Each run is one call of shared/bench/run-baseline.sh (REPS=1, ONLY=^scenario$) with
# CLUSTER=bench/capstan-cluster.sh or shared/bench/etcd-cluster.sh; run-baseline.sh waits for a
# quiet machine, starts the cluster, runs kvload and adds server/machine CPU accounting. Scenarios
# prefixed "single-" run on 1 replica/member, all others on 3 (leader first in the endpoints:
# etcd moves leadership there, capstan-cluster.sh lists the elected leader first). Each line of
# OUT.jsonl is kvload's JSON plus run-baseline.sh's fields plus "system", "rep" and "short".
#
# Env: REPS (3); SHORT=1 shrinks every scenario to a few seconds (totals /10, watch 3 s,
#      --max-secs 5; for smoke tests only; QUIET_TIMEOUT then defaults to 10 s);
#      ONLY (regex on scenario labels, default all 9); SYSTEMS ("capstan etcd");
#      KVLOAD (default /tmp/kvload-target/release/kvload, see below); CAPSTAN_BIN (see
#      capstan-cluster.sh); QUIET_MAX / QUIET_TIMEOUT (see run-baseline.sh); SHARED_BENCH
#      (default: shared/bench beside the main checkout of this repository).
# kvload build: CARGO_TARGET_DIR=/tmp/kvload-target cargo build --release \
#                 --manifest-path <copy of shared/bench/kvload>/Cargo.toml   (needs protoc)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shared/bench sits beside the repository's main checkout (beside the checkout a git worktree
# belongs to, too).
SHARED_BENCH=${SHARED_BENCH:-$(dirname "$(dirname "$(git -C "$HERE" rev-parse --path-format=absolute --git-common-dir)")")/shared/bench}
KVLOAD=${KVLOAD:-/tmp/kvload-target/release/kvload}
REPS=${REPS:-3}
SHORT=${SHORT:-0}
ONLY=${ONLY:-.}
SYSTEMS=${SYSTEMS:-capstan etcd}
SCENARIOS=(put-1c-1conn put-16c-4conn put-64c-8conn range-linear-64c range-serial-64c
           txn-cas-16c-100keys watch-100w-500ps single-put-64c-8conn single-put-1c-1conn)

cluster_of() {
  case "$1" in
    capstan) echo "$HERE/capstan-cluster.sh" ;;
    etcd) echo "$SHARED_BENCH/etcd-cluster.sh" ;;
    *) echo "unknown system $1" >&2; exit 2 ;;
  esac
}

# SHORT=1: a kvload wrapper that shrinks --total (/10, at least 1000), --duration (3 s) and
# --max-secs (5 s) of the matrix's commands.
short_kvload() {
  local w="$1/kvload-short"
  cat > "$w" <<EOF
#!/usr/bin/env bash
args=()
while ((\$#)); do
  case "\$1" in
    --total) t=\$((\$2 / 10)); ((t >= 1000)) || t=1000; args+=(--total "\$t"); shift 2 ;;
    --duration) args+=(--duration 3); shift 2 ;;
    --max-secs) args+=(--max-secs 5); shift 2 ;;
    *) args+=("\$1"); shift ;;
  esac
done
exec "$KVLOAD" "\${args[@]}"
EOF
  chmod +x "$w"
  echo "$w"
}

run() {
  local out=$1 kv rep sys order line
  [[ -x "$KVLOAD" ]] || { echo "kvload not found at $KVLOAD (set KVLOAD)" >&2; exit 1; }
  tmp=$(mktemp -d)  # global: the EXIT trap needs it
  trap 'rm -rf "$tmp"' EXIT
  kv=$KVLOAD
  if [[ "$SHORT" == 1 ]]; then
    kv=$(short_kvload "$tmp")
    export QUIET_TIMEOUT=${QUIET_TIMEOUT:-10}
  fi
  mkdir -p "$(dirname "$out")"
  read -r -a order <<< "$SYSTEMS"
  for rep in $(seq 1 "$REPS"); do
    for label in "${SCENARIOS[@]}"; do
      [[ "$label" =~ $ONLY ]] || continue
      for sys in "${order[@]}"; do
        echo "# rep $rep/$REPS $label $sys" >&2
        rm -f "$tmp/one.jsonl"
        if ! CLUSTER=$(cluster_of "$sys") KVLOAD=$kv REPS=1 ONLY="^$label\$" \
             "$SHARED_BENCH/run-baseline.sh" run "$tmp/one.jsonl" > /dev/null; then
          echo "# FAILED: rep $rep $label $sys (see the cluster logs)" >&2
          continue
        fi
        while read -r line; do
          python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r.update(system=sys.argv[2], rep=int(sys.argv[3]), short=sys.argv[4] == "1")
print(json.dumps(r))' "$line" "$sys" "$rep" "$SHORT" | tee -a "$out" >&2
        done < "$tmp/one.jsonl"
      done
    done
    # Alternate which system goes first in the next repetition.
    mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  done
  summarize "$out"
}

summarize() {
  python3 - "$1" <<'PY'
import json, statistics, sys
ORDER = ["put-1c-1conn", "put-16c-4conn", "put-64c-8conn", "range-linear-64c", "range-serial-64c",
         "txn-cas-16c-100keys", "watch-100w-500ps", "single-put-64c-8conn", "single-put-1c-1conn"]
runs = {}
short = False
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        short |= bool(r.get("short"))
        runs.setdefault((r["label"], r.get("system", "etcd")), []).append(r)
labels = sorted({l for l, _ in runs}, key=lambda l: ORDER.index(l) if l in ORDER else len(ORDER))
busy = lambda r: r.get("background_cpu_s", 0) / r["seconds"] > 0.3  # other load on the machine
clean = lambda rs: [r for r in rs if not busy(r)] or rs              # medians use unflagged runs
med = lambda rs, f: statistics.median(f(r) for r in rs)
def fmt(x, d=0):
    return "–" if x is None else f"{x:,.{d}f}"
def ratio(c, e):
    return "–" if c is None or e is None or e == 0 else f"{c / e:.2f}"
if short:
    print("**SHORT=1 smoke run: tiny scenarios, not benchmark results.**\n")
print("Medians over runs; \"runs\" = unflagged/all, where a run is flagged busy when other CPU (machine busy - server - kvload)")
print("exceeded 0.3 cores. Flagged runs are left out of the medians unless all runs are flagged (marked †).")
print("Ratios are capstan/etcd: above 1 is better for ops/s, below 1 is better for latency and CPU/op.\n")
print("| scenario | members | clients/conns | runs c/e | ops/s capstan | ops/s etcd | **ops/s ratio** | p50 ms c / e | p50 ratio | p99 ms c / e | p99 ratio | server CPU µs/op c / e | CPU/op ratio | errors c / e |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
notes = []
for label in labels:
    c, e = clean(runs.get((label, "capstan"), [])), clean(runs.get((label, "etcd"), []))
    any_r = (c or e)[0]
    cc = f'{any_r["clients"]}/{any_r["conns"]}' if any_r["cmd"] != "watch" else f'{any_r["watchers"]}w/{any_r["conns"]}'
    m = lambda rs, f: med(rs, f) if rs else None
    ops = lambda r: r["ops_per_sec"]
    cpu = lambda r: 1e6 * r["server_cpu_s"] / max(1, r["ops"])  # µs per op (range: incl. populate)
    def n(lab, sys_):  # unflagged/all; † = all runs flagged busy (medians then use them anyway)
        rs = runs.get((lab, sys_), [])
        ok = sum(not busy(r) for r in rs)
        return f'{ok}/{len(rs)}' + ("†" if rs and not ok else "")
    err = lambda rs: str(sum(r["errors"] for r in rs)) if rs else "–"
    row = [label, str(any_r["members"]), cc, f'c {n(label, "capstan")}, e {n(label, "etcd")}',
           fmt(m(c, ops)), fmt(m(e, ops)), f'**{ratio(m(c, ops), m(e, ops))}**',
           f'{fmt(m(c, lambda r: r["p50_ms"]), 3)} / {fmt(m(e, lambda r: r["p50_ms"]), 3)}',
           ratio(m(c, lambda r: r["p50_ms"]), m(e, lambda r: r["p50_ms"])),
           f'{fmt(m(c, lambda r: r["p99_ms"]), 3)} / {fmt(m(e, lambda r: r["p99_ms"]), 3)}',
           ratio(m(c, lambda r: r["p99_ms"]), m(e, lambda r: r["p99_ms"])),
           f'{fmt(m(c, cpu))} / {fmt(m(e, cpu))}', ratio(m(c, cpu), m(e, cpu)),
           f'{err(c)} / {err(e)}']
    print("| " + " | ".join(row) + " |")
    for sys_, rs in (("capstan", c), ("etcd", e)):
        bad = [r for r in rs if r["errors"]]
        if bad:
            notes.append(f'- {label} {sys_}: {sum(r["errors"] for r in bad)} errors; first: {bad[0].get("first_error", "?")}')
if notes:
    print("\nErrors:\n" + "\n".join(notes))

extra = [l for l in labels if (runs.get((l, "capstan")) or runs.get((l, "etcd")))[0]["cmd"] in ("watch", "txn-cas")]
if extra:
    print("\n| checks | system | verified | details |")
    print("|---|---|---|---|")
    for label in extra:
        for sys_ in ("capstan", "etcd"):
            rs = clean(runs.get((label, sys_), []))
            if not rs:
                continue
            ok = f'{all(r.get("verified") for r in rs)} ({sum(bool(r.get("verified")) for r in rs)}/{len(rs)})'
            if rs[0]["cmd"] == "watch":
                s = lambda k, f: fmt(med(rs, lambda r: r[k][f]), 3)
                d = (f'put-send→delivery p50/p99 {s("send_to_delivery", "p50_ms")}/{s("send_to_delivery", "p99_ms")} ms; '
                     f'put p50/p99 {s("put_latency", "p50_ms")}/{s("put_latency", "p99_ms")} ms; '
                     f'achieved {fmt(med(rs, lambda r: r["achieved_put_rate"]), 1)} puts/s; missing/dup/ooo/unexpected '
                     f'{sum(r["missing"] for r in rs)}/{sum(r["duplicates"] for r in rs)}/'
                     f'{sum(r["out_of_order"] for r in rs)}/{sum(r["unexpected"] for r in rs)}')
            else:
                d = (f'successful CAS/s {fmt(med(rs, lambda r: r["succeeded_per_sec"]))}; '
                     f'conflict rate {fmt(med(rs, lambda r: r["conflict_rate"]), 3)}')
            print(f"| {label} | {sys_} | {ok} | {d} |")
PY
}

case "${1:-}" in
  summarize) summarize "${2:?jsonl file}" ;;
  ""|-h|--help) sed -n '2,25p' "$0"; exit 2 ;;
  *) run "$1" ;;
esac
