#!/usr/bin/env bash
# check-clients.sh: the HTTP API as a contract, checked from outside (issue 15).
#
# Starts ONE node (target/debug/xinlian, built before this runs) on 127.0.0.1 with a fresh data
# directory, then against it:
#   1. schemathesis (PyPI), an outside property-based fuzzer, from GET /openapi.json: no 5xx but
#      the documented 503, every answer conforms to the document (status, content type, headers,
#      body schema), schema-violating requests refused; bounded by SCHEMATHESIS_MAX_TIME (120 s);
#   2. the Python client's tests (clients/python/tests);
#   3. the JavaScript client's tests (clients/js/test).
# Only the node this script started is stopped, by its pid. Each step prints how long it took.
#
# Environment:
#   CLIENTS_VENV           the Python virtual environment (default target/clients-venv; made if missing)
#   SCHEMATHESIS_MAX_TIME  seconds of fuzzing (default 120); the README has a longer run's figures
#   XINLIAN_BIN            the binary (default target/debug/xinlian)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf 'check-clients: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
timed() { # timed LABEL CMD...: run, then print how long it took
    local label=$1 t0=$SECONDS
    shift
    "$@" || { say "$label: FAILED after $((SECONDS - t0)) s"; return 1; }
    say "$label: ok in $((SECONDS - t0)) s"
}

bin=${XINLIAN_BIN:-$repo/target/debug/xinlian}
[[ -x "$bin" ]] || die "$bin not found: cargo build -p xinlian first"
command -v python3 >/dev/null || die "python3 not found"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm not found (Node.js 20 or later)"
command -v openssl >/dev/null || die "openssl not found (scripts/setup.sh installs it)"

# --- Install (pinned): the Python venv, the JS client's dependencies ----------------------------
venv=${CLIENTS_VENV:-$repo/target/clients-venv}
install_python() {
    if [[ ! -x "$venv/bin/python" ]] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian's own python3 keeps venv in a separate package; the project's one installer adds it.
        rm -rf "$venv"
        bash "$repo/scripts/setup.sh" python3-venv >&2 || die "could not install python3-venv"
        python3 -m venv "$venv" || die "python3 -m venv failed"
    fi
    # --no-deps: the requirements file pins every package, so pip resolves nothing by itself.
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r clients/requirements-ci.txt
}
install_js() { (cd clients/js && npm ci --no-audit --no-fund --loglevel=error); }
timed "install: pip (clients/requirements-ci.txt)" install_python
timed "install: npm ci (clients/js/package-lock.json)" install_js

# --- One node, ours alone ---------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/check-clients.XXXXXX")
node_pid=""
cleanup() {
    if [[ -n "$node_pid" ]]; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/node.toml" <<'TOML'
[block]
interval_ms = 50
[accel]
backends = ["cpu"]
cpu_threads = 2
TOML
"$bin" run --listen 127.0.0.1:0 --config "$work/node.toml" --data "$work/data" >"$work/node.log" 2>&1 </dev/null &
node_pid=$!
url=""
for _ in $(seq 1 600); do # at most 60 s for the node to say where it listens
    url=$(grep -o 'HTTP API on http://127\.0\.0\.1:[0-9]*' "$work/node.log" | head -n 1 | sed 's/^HTTP API on //') || true
    [[ -n "$url" ]] && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
done
[[ -n "$url" ]] || { tail -n 20 "$work/node.log" >&2; die "the node did not start"; }
say "node pid $node_pid at $url"

# --- 1. schemathesis ----------------------------------------------------------------------------
# positive_data_acceptance is left out: a schema cannot say which signatures verify, so most
# schema-valid transactions are rightly refused (400 bad_signature).
run_schemathesis() {
    # In the temporary folder: schemathesis keeps a .schemathesis/ cache where it runs.
    (cd "$work" && exec "$venv/bin/schemathesis" run "$url/openapi.json" \
        --checks all --exclude-checks positive_data_acceptance \
        --max-time "${SCHEMATHESIS_MAX_TIME:-120}" --workers 2 --request-timeout 10 --no-color)
}
timed "schemathesis (${SCHEMATHESIS_MAX_TIME:-120} s budget)" run_schemathesis

# --- 2, 3. the client libraries' tests ------------------------------------------------------------
export XINLIAN_URL=$url XINLIAN_BIN=$bin
timed "tests: clients/python" \
    bash -c "cd clients/python && PYTHONDONTWRITEBYTECODE=1 timeout 300 '$venv/bin/python' -m unittest discover -s tests"
timed "tests: clients/js" bash -c "cd clients/js && timeout 300 node --test test/"
kill -0 "$node_pid" 2>/dev/null || die "the node died during the checks: $(tail -n 20 "$work/node.log")"
say "all client checks passed"
