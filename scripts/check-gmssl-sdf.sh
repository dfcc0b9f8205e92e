#!/usr/bin/env bash
# check-gmssl-sdf.sh: does a third-party SDF client agree with xinlian's soft crypto card?
#
# Run by scripts/test.sh (so CI runs it: about 45 s, most of it GmSSL's build), or by hand. It checks the soft card (`libxinlian_sdf_sim.so`) against a
# GM/T 0018 client that xinlian did not write, GmSSL 3.1's `gmssl sdfutil`, and checks that
# xinlian refuses a library that answers OK to everything (GmSSL's own `sdf_dummy`):
#
#   1. GmSSL's source comes from the crates.io package `gmssl-rs-sys`, which bundles it (crates.io
#      is reachable where GitHub may not be); a throwaway cargo project vendors it.
#   2. cmake builds the `gmssl` tool and `libsdf_dummy.so` (installed with apt-get if missing).
#   3. `gmssl sdfutil` drives a private copy of the soft card with a fresh key file: device info,
#      export key 1's sign public key, sign a message with internal key 1.
#   4. That signature is verified by three verifiers that share no code with GmSSL or each
#      other's SDF path: OpenSSL (`pkeyutl -rawin -digest sm3`), `xinlian verify --backend sdf`
#      (the soft card's SDF_ExternalVerify_ECC) and `xinlian verify --backend cpu`; each must
#      also reject the signature over a changed message (a verifier that says "valid" to
#      everything would otherwise pass).
#   5. `xinlian devices --sdf-lib libsdf_dummy.so` must fail the library's self-test.
#
# It prints one line per check ("ok   ..." or "FAIL ...") and exits 0 only when every check holds.
# It never rebuilds the workspace: it uses target/debug's binaries (build them first with
# `cargo build -p xinlian -p xinlian-sdf-sim`, or `cargo test --workspace --no-run` as test.sh does).
#
# Environment:
#   GMSSL_BUILD_DIR  reuse a GmSSL build folder across runs (default: a fresh one in the temp dir;
#                    the build takes about 40 s on 2 cores)
#   KEEP_TMP=1       keep the temp folder (keys, signature, logs) for a look afterwards
#   XINLIAN_SDF_SIM_LIB  the soft card library to copy, instead of the one in target/debug
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debug="${CARGO_TARGET_DIR:-$repo/target}/debug"
xinlian="$debug/xinlian"

failures=0
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
skip() { printf 'SKIP %s\n' "$*"; }
die() { printf 'FAIL %s\n' "$*"; exit 1; }

# --- The binaries under test: the ones already built, never a rebuild ----------------------------
[[ -x "$xinlian" ]] || die "missing $xinlian: build the workspace first (this script does not)"
if [[ -n "${XINLIAN_SDF_SIM_LIB:-}" ]]; then
    sim_lib=$XINLIAN_SDF_SIM_LIB
else
    # As hw-sim/sdf/src/locate.rs does: cargo puts the cdylib in deps/ (always) and uplifts it to
    # target/debug/ (on `cargo build`); take the newer of the two.
    sim_lib=$(ls -t "$debug/libxinlian_sdf_sim.so" "$debug/deps/libxinlian_sdf_sim.so" 2>/dev/null | head -n 1 || true)
fi
if [[ -n "${XINLIAN_SDF_SIM_LIB:-}" ]]; then
    [[ -f "$sim_lib" ]] || die "XINLIAN_SDF_SIM_LIB=$sim_lib is not a file"
else
    [[ -n "$sim_lib" && -f "$sim_lib" ]] ||
        die "missing libxinlian_sdf_sim.so in $debug or $debug/deps: build it first (cargo build -p xinlian-sdf-sim)"
fi

for tool in cargo cc openssl; do
    command -v "$tool" >/dev/null || die "missing $tool on PATH"
done
# OpenSSL 1.1 has SM2 but not `pkeyutl -rawin` nor distid; 3.x has both.
[[ "$(openssl version)" == OpenSSL\ 3* ]] || die "openssl 3.x needed for 'pkeyutl -rawin -digest sm3' (have: $(openssl version))"
if ! command -v cmake >/dev/null; then
    # The project's one installer, asked for one more package.
    bash "$repo/scripts/setup.sh" cmake >&2 || die "could not install cmake"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-gmssl-sdf.XXXXXX")
if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    echo "..   temp folder kept: $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# Bytes <-> hex without xxd (not always installed).
to_hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
from_hex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }

# --- 1. GmSSL's source, from crates.io ------------------------------------------------------------
# A throwaway package that depends on gmssl-rs-sys; `cargo vendor` copies the .crate's contents,
# which include the GmSSL tree, into $work/vendor. The default CARGO_HOME is kept, so a
# registry mirror the operator configured is honoured.
proj="$work/fetch"
mkdir -p "$proj/src"
cat >"$proj/Cargo.toml" <<'EOF'
[package]
name = "fetch-gmssl"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
gmssl-rs-sys = "=0.1.0"

[workspace]
EOF
: >"$proj/src/lib.rs"
(cd "$proj" && cargo vendor --quiet "$work/vendor" >/dev/null 2>"$work/vendor.log") ||
    die "cargo vendor of gmssl-rs-sys failed (see below)$(printf '\n'; tail -n 5 "$work/vendor.log")"
gmssl_src=$(dirname "$(find "$work/vendor" -path '*/include/gmssl/version.h' -print -quit)")
gmssl_src=${gmssl_src%/include/gmssl}
[[ -n "$gmssl_src" && -f "$gmssl_src/CMakeLists.txt" && -f "$gmssl_src/tools/sdfutil.c" ]] ||
    die "gmssl-rs-sys does not bundle GmSSL's sources (no CMakeLists.txt + tools/sdfutil.c under $work/vendor)"
gmssl_version=$(sed -n 's/^#define GMSSL_VERSION_STR[[:space:]]*"\(.*\)"/\1/p' "$gmssl_src/include/gmssl/version.h")
if [[ "$gmssl_version" == "GmSSL 3.1"* ]]; then
    ok "GmSSL source from crates.io gmssl-rs-sys: $gmssl_version"
else
    fail "GmSSL source from crates.io gmssl-rs-sys is '$gmssl_version', not 3.1.x (sdfutil options below were read from 3.1.1)"
fi

# --- 2. Build the gmssl tool and libsdf_dummy.so --------------------------------------------------
# GmSSL 3.1.x has no ENABLE_SDF option: src/sdf/* is always in libgmssl, and tools/sdfutil.c in
# the gmssl tool. Pass ENABLE_SDF=ON only when a CMakeLists that has the option shows up.
build="${GMSSL_BUILD_DIR:-$work/gmssl-build}"
mkdir -p "$build"
cmake_opts=(-DCMAKE_BUILD_TYPE=Release)
grep -q 'option(ENABLE_SDF\b' "$gmssl_src/CMakeLists.txt" && cmake_opts+=(-DENABLE_SDF=ON)
jobs=$(nproc 2>/dev/null || echo 2)
start=$SECONDS
if [[ -x "$build/bin/gmssl" && -f "$build/bin/libsdf_dummy.so" ]]; then
    echo "..   reusing the GmSSL build in $build"
else
    # Outputs go to $build/bin so that the tool and the dummy are found in one place.
    if ! { cmake -S "$gmssl_src" -B "$build" "${cmake_opts[@]}" \
        -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$build/bin" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$build/bin" &&
        cmake --build "$build" -j "$jobs" --target gmssl-bin sdf_dummy; } >"$build/build.log" 2>&1; then
        die "GmSSL build failed: $(tail -n 5 "$build/build.log")"
    fi
fi
gmssl="$build/bin/gmssl"
dummy_lib="$build/bin/libsdf_dummy.so"
[[ -x "$gmssl" ]] || die "GmSSL build made no gmssl tool ($build/bin)"
ok "built gmssl (sdfutil) and libsdf_dummy.so with cmake ${cmake_opts[*]} in $((SECONDS - start)) s"
# gmssl links libgmssl.so from the same folder (the build's RPATH points there already; this is
# belt and braces for a moved build folder).
export LD_LIBRARY_PATH="$build/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# --- 3. A private soft card with one key -------------------------------------------------------------
# The card reads xinlian-sdf-sim.toml from the folder of the loaded library file, so a copy of the
# library in its own folder is a card of its own, with no effect on any other user of the .so.
card="$work/card"
mkdir -p "$card"
cp "$sim_lib" "$card/libxinlian_sdf_sim.so"
card_lib="$card/libxinlian_sdf_sim.so"
password="gmssl-check-$$-$RANDOM"
(umask 077 && printf '%s\n' "$password" >"$card/password")
"$xinlian" card sdf-keys --out "$card/keys.toml" --count 1 --password-file "$card/password" \
    >"$card/sdf-keys.out" 2>"$card/sdf-keys.err" ||
    die "xinlian card sdf-keys failed: $(cat "$card/sdf-keys.err")"
pubkey=$(awk '$1 == "1" { print $2 }' "$card/sdf-keys.out")
[[ "$pubkey" =~ ^04[0-9a-f]{128}$ ]] || die "xinlian card sdf-keys printed no 65-byte key 1: $(cat "$card/sdf-keys.out")"
serial="XLSDF-GMSSL001"
# layout "64": GmSSL's sgd.h sizes ECCref fields by ECCref_MAX_BITS = 512 (64 bytes) unless
# SGD_MAX_ECC_BITS_256 is defined, which its CMakeLists does not do. No faults, no pacing.
cat >"$card/xinlian-sdf-sim.toml" <<EOF
profile = "pcie-2019"
pacing = "fast"
faults = "none"
seed = 0
layout = "64"
stub = false
keystore = "$card/keys.toml"
serial = "$serial"
EOF

# --- 4. gmssl sdfutil against the card ---------------------------------------------------------------
# Options as tools/sdfutil.c of 3.1.1 parses them: -lib, -devinfo, -exportpubkey, -sign, -key N,
# -pass P, -id ID, -in, -out. -exportpubkey needs -pass too: both go through sdf_load_sign_key,
# which exports the public key and takes SDF_GetPrivateKeyAccessRight. sdfutil takes the password
# only on its command line; this throwaway key exists only in $work.
# (sdfutil's -rand is broken in 3.1.1: it never selects the operation, so it is not used here.)
if "$gmssl" sdfutil -lib "$card_lib" -devinfo >"$work/devinfo.txt" 2>&1 &&
    grep -q "Serial Number *: $serial" "$work/devinfo.txt"; then
    ok "sdfutil -devinfo: $(sed -n 's/^ *Device Name *: //p' "$work/devinfo.txt"), serial $serial"
else
    fail "sdfutil -devinfo: no DEVICEINFO with serial $serial: $(tr '\n' ' ' <"$work/devinfo.txt")"
fi

exported_hex=""
if "$gmssl" sdfutil -lib "$card_lib" -exportpubkey -key 1 -pass "$password" -out "$work/pub.pem" \
    >"$work/export.log" 2>&1 &&
    openssl pkey -pubin -in "$work/pub.pem" -outform DER -out "$work/pub-export.der" 2>>"$work/export.log"; then
    # The last 65 bytes of an SM2 SubjectPublicKeyInfo are the uncompressed point.
    exported_hex=$(to_hex "$work/pub-export.der")
    exported_hex=${exported_hex: -130}
fi
if [[ "$exported_hex" == "$pubkey" ]]; then
    ok "sdfutil -exportpubkey -key 1: the key file's public key (${pubkey:0:18}...)"
else
    fail "sdfutil -exportpubkey -key 1: got '${exported_hex:-nothing}', key file has $pubkey: $(tr '\n' ' ' <"$work/export.log")"
fi

# The message carries the date, so it differs on every run; the tampered one is another message.
printf 'xinlian check-gmssl-sdf %s' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/msg"
printf 'xinlian check-gmssl-sdf tampered' >"$work/msg-bad"
msg_hex=$(to_hex "$work/msg")
bad_hex=$(to_hex "$work/msg-bad")
# ID: sdfutil's default, SM2_DEFAULT_ID = "1234567812345678" (GB/T 32918 / GM/T 0009's default),
# which is also OpenSSL's distid below and xinlian verify's default "id". sdfutil hashes
# e = SM3(Z_A(ID, key) || msg) itself and hands only e to SDF_InternalSign_ECC; it writes the
# signature as DER.
sig_hex=""
if "$gmssl" sdfutil -lib "$card_lib" -sign -key 1 -pass "$password" -id 1234567812345678 \
    -in "$work/msg" -out "$work/sig.der" >"$work/sign.log" 2>&1 && [[ -s "$work/sig.der" ]]; then
    sig_hex=$(to_hex "$work/sig.der")
    ok "sdfutil -sign -key 1 (internal key, ID 1234567812345678): DER signature, $(wc -c <"$work/sig.der") bytes"
else
    fail "sdfutil -sign -key 1: $(tr '\n' ' ' <"$work/sign.log")"
fi

# --- 5. Three verifiers --------------------------------------------------------------------------------
if [[ -n "$sig_hex" ]]; then
    # OpenSSL: SPKI DER = the fixed SM2 prefix (id-ecPublicKey, curve SM2, BIT STRING of 66) + the key.
    from_hex "3059301306072a8648ce3d020106082a811ccf5501822d034200$pubkey" >"$work/pub.der"
    ossl_verify() {
        openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678 \
            -pubin -keyform DER -inkey "$work/pub.der" -in "$1" -sigfile "$work/sig.der" 2>&1
    }
    good=$(ossl_verify "$work/msg" || true)
    bad=$(ossl_verify "$work/msg-bad" || true)
    if [[ "$good" == *"Signature Verified Successfully"* && "$bad" != *"Signature Verified Successfully"* ]]; then
        ok "openssl pkeyutl -verify -rawin -digest sm3 distid:1234567812345678: valid (tampered message: rejected)"
    else
        fail "openssl pkeyutl -verify: signed message: '$(tr '\n' ' ' <<<"$good")'; tampered: '$(tr '\n' ' ' <<<"$bad")'"
    fi

    # xinlian verify: line 1 the signed message, line 2 the tampered one.
    printf '{"pubkey":"%s","msg":"%s","sig":"%s"}\n' "$pubkey" "$msg_hex" "$sig_hex" "$pubkey" "$bad_hex" "$sig_hex" \
        >"$work/verify.jsonl"
    for backend in sdf cpu; do
        args=(verify --backend "$backend" --input "$work/verify.jsonl" --output "$work/verdicts-$backend.jsonl"
            --log-level error)
        [[ "$backend" == sdf ]] && args+=(--sdf-lib "$card_lib")
        if "$xinlian" "${args[@]}" 2>"$work/verify-$backend.err"; then rc=0; else rc=$?; fi
        v1=$(sed -n '1s/.*"verdict": *"\([a-z]*\)".*/\1/p' "$work/verdicts-$backend.jsonl" 2>/dev/null || true)
        v2=$(sed -n '2s/.*"verdict": *"\([a-z]*\)".*/\1/p' "$work/verdicts-$backend.jsonl" 2>/dev/null || true)
        if [[ "$v1" == valid && "$v2" == invalid ]]; then
            ok "xinlian verify --backend $backend: valid (tampered message: invalid)"
        else
            fail "xinlian verify --backend $backend (exit $rc): signed '${v1:-none}', tampered '${v2:-none}': $(tail -n 3 "$work/verify-$backend.err" | tr '\n' ' ')"
        fi
    done
else
    skip "openssl / xinlian verify --backend sdf / --backend cpu: no signature from sdfutil to verify"
    failures=$((failures + 1))
fi

# --- 6. An SDF library that answers OK to everything is refused -----------------------------------
# `xinlian devices` exits non-zero when any backend fails, and an operator's host may fail one
# (OpenCL) for reasons of its own, so the check reads the sdf entry's own self-test line as well.
sdf_self_test() { # $1: devices output, $2: library path -> the line after "sdf:$2:"
    awk -v head="sdf:$2:" 'found { print; exit } index($0, head) == 1 { found = 1 }' "$1" | sed 's/^ *//'
}
if "$xinlian" devices --sdf-lib "$card_lib" --log-level error >"$work/devices-card.out" 2>&1; then :; fi
line=$(sdf_self_test "$work/devices-card.out" "$card_lib")
if [[ "$line" == "self-test: pass" ]]; then
    ok "xinlian devices --sdf-lib soft card: self-test passes (the control)"
else
    fail "xinlian devices --sdf-lib soft card: '${line:-no sdf entry}'"
fi
if "$xinlian" devices --sdf-lib "$dummy_lib" --log-level error >"$work/devices-dummy.out" 2>&1; then rc=0; else rc=$?; fi
line=$(sdf_self_test "$work/devices-dummy.out" "$dummy_lib")
if [[ $rc -ne 0 && "$line" == "self-test: FAIL"* ]]; then
    ok "xinlian devices --sdf-lib GmSSL libsdf_dummy.so: exit $rc, ${line}"
else
    fail "xinlian devices --sdf-lib GmSSL libsdf_dummy.so: exit $rc, '${line:-no sdf entry}' (a library that answers OK to everything must fail)"
fi

if [[ $failures -eq 0 ]]; then
    echo "ok   all checks hold"
else
    echo "FAIL $failures check(s) failed"
    exit 1
fi
