#!/usr/bin/env bash
# Store benchmarks of README's Performance section. Each benchmark runs in its own process (so RSS
# is measured alone); prints one markdown table.
#   bench/store.sh [put range prefix watch compact rss]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
cargo build --release -q -p capstan-store --example storebench
bin="$CARGO_TARGET_DIR/release/examples/storebench"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(put range prefix watch compact rss)
echo "| benchmark | result | detail |"
echo "|---|---|---|"
for n in "${names[@]}"; do
  "$bin" "$n" | tail -n +3
done
