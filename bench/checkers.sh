#!/usr/bin/env bash
# How long `capstan jepsen`'s search checkers take on the valid histories of their unit tests
# (jepsen/examples/checkbench.rs; the tests check verdicts only). Prints one markdown table.
#   bench/checkers.sh [elle] [wgl]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
# The test command's package and feature selection, so nothing is rebuilt for it.
cargo build --release -q --workspace --example checkbench --features capstan/fault-injection
"$CARGO_TARGET_DIR/release/examples/checkbench" "$@"
