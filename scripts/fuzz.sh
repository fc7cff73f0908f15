#!/usr/bin/env bash
# Fuzz the request-parsing and validation code with cargo-fuzz (libFuzzer).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in parse_image_body parse_list_query; do
  cargo fuzz run "$target" -- -max_total_time="${1:-60}" -max_len=4096
done
