# Sourced by the kubectl end-to-end scripts (after they set KUBECTL, KC, NS and WORK): kubectl
# in the namespace, the checks, and loops playing the kubelet (pods marked Running and Ready
# through the status subresource, terminating pods removed, as kwok does; there is no node
# agent yet) and a Job's containers.
K() { "$KUBECTL" --kubeconfig "$KC" --cache-dir "$WORK/cache" -n "$NS" "$@"; }
step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_in() { grep -qE -- "$2" <<<"$1" || fail "$3: '$2' not in: $1"; }
# until_eq WHAT EXPECTED COMMAND...: waits until COMMAND prints EXPECTED (60 s guard).
until_eq() {
  local what=$1 want=$2 end=$((SECONDS + 60)) got; shift 2
  until got=$("$@" 2>&1) && [ "$got" = "$want" ]; do
    ((SECONDS < end)) || fail "$what: expected '$want', got '$got'"
    sleep 0.2
  done
}

# Pods named in $WORK/hold (one per line) are left Pending until their line goes; a pod whose
# graceful deletion began is stopped at once (its object removed, as the kubelet does last).
kubelet() {
  while true; do
    for p in $(K get pods -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{" "}{end}' 2>/dev/null); do
      K delete pod "$p" --grace-period=0 --force >/dev/null 2>&1 || true
    done
    for p in $(K get pods -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.name}{" "}{end}' 2>/dev/null); do
      [ -f "$WORK/hold" ] && grep -qx "$p" "$WORK/hold" && continue
      K patch pod "$p" --subresource=status --type=merge -p \
        "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$(date -u +%FT%TZ)\"}]}}" \
        >/dev/null 2>&1 || true
    done
    sleep 0.3
  done
}

# A Job's pods run until this loop marks them Succeeded.
finish_jobs() {
  while true; do
    for p in $(K get pods -l batch.kubernetes.io/job-name -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{" "}{end}' 2>/dev/null); do
      K patch pod "$p" --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null 2>&1 || true
    done
    sleep 0.3
  done
}
