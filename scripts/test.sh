#!/usr/bin/env bash
# README's test command: installs what the build needs (Debian 12, as root), then runs every test.
# The target dir defaults to a cache outside the clone, so RocksDB's C++ build (~12 minutes on
# 2 cores) happens once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/install-deps.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
# Incremental state grows with every change built and is never collected by cargo (it filled
# this machine's disk at 36 GB): past 8 GB it is dropped. Only the workspace's own crates
# rebuild; RocksDB's C++ build lives in build/ and is kept.
inc="$CARGO_TARGET_DIR/release/incremental"
if [ -d "$inc" ] && [ "$(du -s --block-size=1G "$inc" | cut -f1)" -gt 8 ]; then
  rm -rf "$inc"
fi
# One profile (release) for tests, clippy, benches and the binary: RocksDB compiles once.
# `fault-injection` compiles in the crash points and the broken read path `capstan jepsen`'s
# tests arm (never in the binary `scripts/run.sh` builds).
cargo test --release --workspace --all-targets --features capstan/fault-injection "$@"
