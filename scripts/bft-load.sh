#!/usr/bin/env bash
# Issue 12's network measurement, reproducible: four validators made by `xinlian init
# --validators 4`, each `xinlian run` with the CPU backend on one thread, and `xinlian load`
# spreading its connections over all four, every process on this machine's cores. Prints the
# load's report (committed TPS, submit-to-commit p50/p99, each node's stage times) and each
# node's consensus and relay counters.
#
#   scripts/bft-load.sh [xinlian load options...]     e.g. --tps 3000 --duration 30
#   BFT_INTERVAL_MS=N sets the nodes' [block] interval_ms (init writes 50).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p xinlian
bin=$PWD/target/release/xinlian
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=${BFT_BASE_PORT:-18700}
"$bin" init --validators 4 --out "$work/net" --base-port "$base" --consensus-port "${BFT_CONSENSUS_PORT:-28700}" 2>/dev/null
for i in 0 1 2 3; do
  # The file ends in the [accel] section.
  printf 'backends = ["cpu"]\ncpu_threads = 1\n' >> "$work/net/node-$i/config.toml"
  if [ -n "${BFT_INTERVAL_MS:-}" ]; then
    sed -i "s/^interval_ms = .*/interval_ms = $BFT_INTERVAL_MS/" "$work/net/node-$i/config.toml"
  fi
  "$bin" run --config "$work/net/node-$i/config.toml" 2> "$work/node-$i.log" &
  pids+=($!)
done
urls=$(for i in 0 1 2 3; do printf 'http://127.0.0.1:%d,' $((base + i)); done)
urls=${urls%,}
# Up and deciding: height 2 on node 3.
for _ in $(seq 1 600); do
  h=$(curl -s "http://127.0.0.1:$((base + 3))/status" | sed -n 's/.*"height":\([0-9]*\).*/\1/p' | head -1) || true
  if [ "${h:-0}" -ge 2 ]; then break; fi
  sleep 0.1
done
echo "bft-load: 4 validators at height ${h:-?}; load on $urls" >&2
"$bin" load --rpc "$urls" "$@"
for i in 0 1 2 3; do
  m=$(curl -s "http://127.0.0.1:$((base + i))/metrics")
  printf 'node %d: height %s, blocks refused %s, relayed out %s, relayed in %s\n' "$i" \
    "$(echo "$m" | awk '$1 == "xinlian_height" {print $2}')" \
    "$(echo "$m" | awk '$1 == "xinlian_blocks_refused_total" {print $2}')" \
    "$(echo "$m" | awk '$1 == "xinlian_txs_relayed_out_total" {print $2}')" \
    "$(echo "$m" | awk '$1 == "xinlian_txs_relayed_in_total" {print $2}')"
done
