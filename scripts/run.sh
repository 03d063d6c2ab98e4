#!/usr/bin/env bash
# README's run command: installs what the build needs (Debian 12, as root), builds the capstan
# binary in the release profile and runs it with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/install-deps.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
cargo build --release -q --bin capstan
exec "$CARGO_TARGET_DIR/release/capstan" "$@"
