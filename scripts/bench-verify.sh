#!/usr/bin/env bash
# The issue's acceptance measurement, reproducible: the whole `xinlian verify --threads 1`
# process on 20,000 signatures (cold keys: every signature a new key; hot keys: 16 signers),
# against efficient-sm2's verify_digest loop on the same cold signatures, in one run.
#
#   scripts/bench-verify.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p xinlian -p xinlian-benches --example verify_input
gen=target/release/examples/verify_input
"$gen" gen cold "$count" > "$work/cold.jsonl"
"$gen" gen hot "$count" > "$work/hot.jsonl"

rate() { sed -n 's/.*(\([0-9]*\)\/s).*/\1/p'; }
run() { # label file [env]
  local line
  line=$(env $3 target/release/xinlian verify --threads 1 --input "$2" --output /dev/null 2>&1 >/dev/null | tail -1)
  echo "$1: $line" >&2
  echo "$line" | rate
}
cold=$(run "xinlian cold" "$work/cold.jsonl" "")
hot=$(run "xinlian hot " "$work/hot.jsonl" "")
portable=$(run "xinlian cold, portable path (XINLIAN_SM2_IFMA=0)" "$work/cold.jsonl" "XINLIAN_SM2_IFMA=0")
eff_line=$("$gen" efficient "$work/cold.jsonl")
echo "$eff_line" >&2
eff=$(echo "$eff_line" | sed -n 's/.*= \([0-9]*\)\/s.*/\1/p')
awk -v c="$cold" -v h="$hot" -v p="$portable" -v e="$eff" 'BEGIN {
  printf "cold %d/s = %.2fx efficient-sm2 (%d/s); hot %d/s = %.2fx cold; portable cold %d/s = %.2fx efficient-sm2\n",
         c, c / e, e, h, h / c, p, p / e }'
