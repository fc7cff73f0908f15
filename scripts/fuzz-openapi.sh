#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis generates requests from openapi.json and checks that the
# server never answers 5xx and that every response matches the document.
#
#   scripts/fuzz-openapi.sh              # 50 examples per operation
#   FUZZ_MAX_EXAMPLES=200 FUZZ_SEED=1 scripts/fuzz-openapi.sh
#
# Installs schemathesis with pip, builds glimpse, serves it on a fresh SQLite database on a free
# loopback port (no-token callers are admins there), and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
# A hard bound on the schemathesis run itself, in seconds.
TIME_LIMIT="${FUZZ_TIME_LIMIT:-900}"

say() { printf '\n== %s\n' "$*"; }

say "schemathesis"
python3 -m pip install --quiet --disable-pip-version-check schemathesis
schemathesis --version

say "build"
cargo build --quiet --bin glimpse
target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/glimpse"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

say "serve on $base"
"$bin" serve --bind "127.0.0.1:$port" --images-bind 127.0.0.1:0 --database "sqlite://$work/fuzz.db" \
  --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "glimpse did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null

say "schemathesis run (max $MAX_EXAMPLES examples per operation)"
seed_args=()
if [ -n "${FUZZ_SEED:-}" ]; then seed_args=(--seed "$FUZZ_SEED"); fi
started=$SECONDS
status=0
# Run from the scratch directory so that nothing is written into the repository.
(
  cd "$work"
  timeout "$TIME_LIMIT" schemathesis run "$base/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --generation-database none \
    --no-color \
    "${seed_args[@]}"
) || status=$?
echo "schemathesis finished in $((SECONDS - started)) s with exit status $status"

if grep -qiE 'panicked|internal error' "$work/server.log"; then
  echo "the server logged internal errors:" >&2
  grep -iE -A3 'panicked|internal error' "$work/server.log" | head -n 40 >&2
  status=1
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the run:" >&2
  tail -n 40 "$work/server.log" >&2
  status=1
fi
exit "$status"
