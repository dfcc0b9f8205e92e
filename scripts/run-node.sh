#!/usr/bin/env bash
# Run a node: install what is missing, build the release binary, run it.
# Arguments go to `xinlian run`, e.g. scripts/run-node.sh --help
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$cargo_bin/cargo" ]; then
    export PATH="$cargo_bin:$PATH" # rustup's cargo, for shells without ~/.cargo/env
fi

cargo build --release -p xinlian
exec "${CARGO_TARGET_DIR:-target}/release/xinlian" run "$@"
