#!/usr/bin/env bash
# Installs the system packages the build and tests need, if missing: libclang (RocksDB's
# bindings), protoc (the .proto files), etcdctl (the etcd facade's tests), etcd (the peer
# `capstan migrate` is tested against), curl, the Python Kubernetes client (Debian's, and 37.x
# from PyPI in a venv), strace and libfaketime (`capstan jepsen`'s disk and clock faults), and
# iproute2, nftables and util-linux (the sandbox runtime), docker-registry and busybox-static
# (the image tests: an image built from busybox, pulled from a loopback registry). Debian 12;
# needs root (or sudo) the first time only.
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
dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv)  # the venv holding the newest Python client
command -v ip >/dev/null 2>&1 || need+=(iproute2)             # the sandbox runtime's bridge and veths
command -v nft >/dev/null 2>&1 || need+=(nftables)            # its guard: pod traffic never leaves the machine
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)      # nsenter, unshare, setsid --ctty
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)  # the registry images are pulled from in tests
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)  # a grpc health server for grpc probes
command -v openssl >/dev/null 2>&1 || need+=(openssl)         # a self-signed certificate for HTTPS probes
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)  # the image the tests build (static: it runs alone in an image)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# The newest official Python client (37.x, from PyPI) beside Debian's, in a venv of Debian's
# interpreter: tests/python_client.rs runs its scripts under both.
venv=${CAPSTAN_PY_VENV:-$HOME/.cache/capstan-py/kubernetes-37}
if ! "$venv/bin/python" -c 'import kubernetes, sys; sys.exit(kubernetes.__version__.split(".")[0] != "37")' >/dev/null 2>&1; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'kubernetes>=37,<38'
fi
