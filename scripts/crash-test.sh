#!/usr/bin/env bash
# Crash safety: SIGKILL the real server under concurrent writes ROUNDS times (default 50) and
# verify every acknowledged write after each restart. Usage: scripts/crash-test.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
GLIMPSE_CRASH_ROUNDS="${1:-50}" cargo test --test api crash:: -- --nocapture
