# Sourced by the Kubernetes API benchmark scripts: run from the repository root, with the
# kubebench client built ($BENCH) and the cluster directory capstan-cluster.sh uses.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/capstan-target}
BENCH="$CARGO_TARGET_DIR/release/examples/kubebench"
[[ -x "$BENCH" ]] || cargo build --release --example kubebench --features capstan/fault-injection >&2
export CAPSTANBENCH_DIR=${CAPSTANBENCH_DIR:-/tmp/capstanbench-kube}
