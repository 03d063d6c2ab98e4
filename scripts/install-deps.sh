#!/usr/bin/env bash
# Installs the system packages the build and tests need, if missing: libclang (RocksDB's
# bindings), protoc (the .proto files), etcdctl (the etcd facade's tests), etcd (the peer
# `capstan migrate` is tested against), curl, the Python Kubernetes client, strace and
# libfaketime (`capstan jepsen`'s disk and clock faults). Debian 12; needs root (or sudo) the first time only.
set -euo pipefail
need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v c++ >/dev/null 2>&1 || need+=(build-essential)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)   # the real etcdctl, for the facade's tests
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)      # etcd 3.4, the peer `capstan migrate` copies from
command -v curl >/dev/null 2>&1 || need+=(curl)             # raw /metrics and /readyz requests in tests
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || need+=(python3-kubernetes)  # the Python client's test
command -v strace >/dev/null 2>&1 || need+=(strace)          # capstan jepsen's disk faults
dpkg -s libfaketime >/dev/null 2>&1 || need+=(libfaketime)   # capstan jepsen's clock faults
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
