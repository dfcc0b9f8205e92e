#!/usr/bin/env bash
# The whole test suite: install what is missing, then formatting, lints, the GmSSL interop
# check of the SDF path, the HTTP API checked from outside (schemathesis and the Python and
# JavaScript clients against one live node), and every test.
# Stops at the first step that fails. The last line printed is cargo test's own summary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup: scripts/setup.sh"
bash scripts/setup.sh
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$cargo_bin/cargo" ]; then
    export PATH="$cargo_bin:$PATH" # rustup's cargo, for shells without ~/.cargo/env
fi

step "format: cargo fmt --all -- --check"
cargo fmt --all -- --check

step "lints: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# One build for the interop step and the tests: `cargo test --no-run` builds the test binaries,
# the xinlian binary (target/debug/xinlian) and the soft card (target/debug/deps). A separate
# `cargo build -p ...` resolves features differently and compiles several crates twice.
step "build: cargo test --workspace --no-run"
cargo test --workspace --no-run

step "interop: GmSSL's sdfutil against the soft SDF card (scripts/check-gmssl-sdf.sh)"
bash scripts/check-gmssl-sdf.sh

step "clients: schemathesis, clients/python, clients/js against one node (scripts/check-clients.sh)"
clients_start=$SECONDS
bash scripts/check-clients.sh
printf 'clients: all checks in %d s\n' "$((SECONDS - clients_start))"

step "tests: cargo test --workspace"
exec cargo test --workspace
