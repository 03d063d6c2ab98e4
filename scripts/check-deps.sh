#!/usr/bin/env bash
# The crate boundaries of DESIGN.md, checked with `cargo tree`: a crate must not reach what it
# must not know about.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
forbid() { # forbid CRATE DEP...
  local crate=$1; shift
  local tree
  tree=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  for dep in "$@"; do
    if grep -qx "$dep" <<<"$tree"; then
      echo "FAIL: $crate depends on $dep"
      fail=1
    fi
  done
}
forbid_direct() { # forbid_direct CRATE DEP...: no direct dependency
  local crate=$1; shift
  local tree
  tree=$(cargo tree -p "$crate" -e normal --depth 1 --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  for dep in "$@"; do
    if grep -qx "$dep" <<<"$tree"; then
      echo "FAIL: $crate depends directly on $dep"
      fail=1
    fi
  done
}
forbid capstan-proto capstan-store rocksdb openraft tonic axum hyper
forbid capstan-store openraft tonic axum hyper kube k8s-openapi capstan-raft capstan-apiserver
forbid capstan-raft kube k8s-openapi capstan-apiserver
# tonic's server routes with axum internally; raft itself must not use HTTP.
forbid_direct capstan-raft axum hyper
if cargo metadata --format-version 1 --no-deps | grep -q '"name":"capstan-apiserver"'; then
  forbid capstan-apiserver capstan-raft rocksdb openraft librocksdb-sys
fi
# The fault tests drive real servers from outside: wire schemas only, no server internals.
forbid capstan-jepsen capstan-store capstan-raft capstan-apiserver rocksdb openraft
for c in capstan-controllers capstan-scheduler capstan-node; do
  if cargo metadata --format-version 1 --no-deps | grep -q "\"name\":\"$c\""; then
    forbid "$c" capstan-store capstan-raft capstan-apiserver rocksdb openraft
  fi
done
[ "$fail" -eq 0 ] && echo "dependency edges ok"
exit "$fail"
