#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build, run and test xinlian, and only that.
# Idempotent: a second run finds everything present and changes nothing.
# Runs as root, or as a user with sudo. Rust itself (rustup + cargo) must already be there.
set -euo pipefail

# Debian packages xinlian needs:
#   openssl     the OpenSSL command line: the interop tests sign with it (cli/tests/cli.rs)
#   pkg-config  lets -sys crates find system libraries
#   pocl-opencl-icd      POCL, the CPU OpenCL device the OpenCL backend's tests run on (and the
#                        ICD loader libOpenCL.so.1, loaded at run time by the opencl3 crate)
#   ocl-icd-opencl-dev   the loader's development link and headers (clinfo-style tooling)
#   clang                POCL compiles OpenCL C with it
#   cmake       builds GmSSL's sdfutil, the outside SDF client scripts/check-gmssl-sdf.sh runs
DEBIAN_PACKAGES=(openssl pkg-config pocl-opencl-icd ocl-icd-opencl-dev clang cmake)
# More packages may be named as arguments: scripts/check-bench-report.sh asks for chromium.
DEBIAN_PACKAGES+=("$@")

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Rust: rustup puts cargo in ~/.cargo/bin, which a non-login shell may not have on PATH.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$cargo_bin/cargo" ]; then
    export PATH="$cargo_bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 \
    || die "cargo not found. Install Rust first (https://rustup.rs), then open a new shell or run: . \"\$HOME/.cargo/env\""
say "cargo: $(cargo --version)"

# Root, or sudo for the commands that need it.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

# Debian packages: which are missing?
is_installed() {
    if command -v dpkg-query >/dev/null 2>&1; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
    else
        command -v "$1" >/dev/null 2>&1 # not Debian: the best we can do is look for the command
    fi
}
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "Debian packages present: ${DEBIAN_PACKAGES[*]}"
else
    command -v apt-get >/dev/null 2>&1 \
        || die "missing ${missing[*]}, and no apt-get here: install them with your package manager"
    say "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust components the test command uses (a minimal rustup profile lacks them).
for component in rustfmt clippy; do
    sub="${component/rustfmt/fmt}"
    if cargo "$sub" --version >/dev/null 2>&1; then
        continue
    fi
    command -v rustup >/dev/null 2>&1 || die "cargo $sub is missing and rustup is not here to add $component"
    say "installing Rust component: $component"
    rustup component add "$component"
done
say "ready"
