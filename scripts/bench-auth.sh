#!/usr/bin/env bash
# What token validation costs: `show` (v1 registry API) against one catalog, first with glimpse
# in noauth mode, then in keystone mode against the test Keystone (scripts/services/keystone.sh)
# with a warm token cache, back to back on this machine, and the ratio of the two.
#
#   scripts/bench-auth.sh            # 10,000 images, 32 connections, 10 s each
#
# Environment: WORK (default /tmp/glimpse-bench-auth), IMAGES (default 10000), PORT (9591),
# BENCH_ARGS (extra glimpse-bench arguments, e.g. "--duration 5").
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WORK:-/tmp/glimpse-bench-auth}
IMAGES=${IMAGES:-10000}
PORT=${PORT:-9591}

cargo build --release --locked --bins
bin=$PWD/target/release
mkdir -p "$WORK"
eval "$(bash scripts/services/keystone.sh ensure | grep -E '^KEYSTONE_[A-Z_]+=' | sed 's/^/export /')"

catalog="$WORK/catalog-$IMAGES.jsonl"
ids="$WORK/ids-$IMAGES.txt"
db="$WORK/auth-$IMAGES.db"
if [[ ! -s "$catalog" ]]; then
  "$bin/glimpse-bench" --images "$IMAGES" --write-catalog "$catalog" --ids-file "$ids"
fi
rm -f "$db" "$db-wal" "$db-shm"
"$bin/glimpse" db import --database "sqlite://$db" --input "$catalog" >/dev/null
cat "$db" >/dev/null

server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null || true' EXIT
serve() {
  "$bin/glimpse" serve --database "sqlite://$db" --bind "127.0.0.1:$PORT" --images-bind 127.0.0.1:0 \
    --store "file:$WORK/images" --log-level warn "$@" &
  server=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.1
  done
  echo "glimpse did not start" >&2
  exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

echo "== noauth"
serve --auth noauth
# shellcheck disable=SC2086
"$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" --scenarios show \
  --server-pid "$server" --json-out "$WORK/noauth.json" ${BENCH_ARGS:-}
stop

echo "== keystone (one project member's token; the cache is warm after the warm-up)"
serve --auth keystone --keystone-auth-url "$KEYSTONE_AUTH_URL" \
  --keystone-username "$KEYSTONE_SERVICE_USER" --keystone-password "$KEYSTONE_SERVICE_PASSWORD" \
  --keystone-project-name "$KEYSTONE_SERVICE_PROJECT"
# An admin's token, so that show reads every image of the catalog as the noauth admin does.
# shellcheck disable=SC2086
"$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" --scenarios show \
  --keystone-auth-url "$KEYSTONE_AUTH_URL" --keystone-user "$KEYSTONE_ADMIN_USER" \
  --keystone-password "$KEYSTONE_ADMIN_PASSWORD" --keystone-project "$KEYSTONE_ADMIN_PROJECT" \
  --server-pid "$server" --json-out "$WORK/keystone.json" ${BENCH_ARGS:-}
stop

python3 - "$WORK/noauth.json" "$WORK/keystone.json" <<'EOF'
import json, sys
rate = lambda p: next(s for s in json.load(open(p))["scenarios"] if s["name"] == "show")["requests_per_s"]
n, k = rate(sys.argv[1]), rate(sys.argv[2])
print(f"show: noauth {n:.0f}/s, keystone {k:.0f}/s = {100 * k / n:.0f}% of noauth")
EOF
