#!/usr/bin/env bash
# What token validation costs: `show` (v1 registry API) against one catalog, first with glimpse
# in noauth mode, then in keystone mode against the test Keystone (scripts/services/keystone.sh)
# with a warm token cache, back to back on this machine, and the ratio of the two.
#
#   scripts/bench-auth.sh            # 10,000 images, 32 connections, 10 s each, 2 rounds
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

# Alternating rounds (ROUNDS, default 2): this machine's figures drift between runs, and
# alternation puts both modes under the same drift.
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "== round $round: noauth"
  serve --auth noauth
  # shellcheck disable=SC2086
  "$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" --scenarios show \
    --server-pid "$server" --json-out "$WORK/noauth-$round.json" ${BENCH_ARGS:-}
  stop

  echo "== round $round: keystone (an admin's token, so that show reads what the noauth admin reads; the cache is warm after the warm-up)"
  serve --auth keystone --keystone-auth-url "$KEYSTONE_AUTH_URL" \
    --keystone-username "$KEYSTONE_SERVICE_USER" --keystone-password "$KEYSTONE_SERVICE_PASSWORD" \
    --keystone-project-name "$KEYSTONE_SERVICE_PROJECT"
  # shellcheck disable=SC2086
  "$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" --scenarios show \
    --keystone-auth-url "$KEYSTONE_AUTH_URL" --keystone-user "$KEYSTONE_ADMIN_USER" \
    --keystone-password "$KEYSTONE_ADMIN_PASSWORD" --keystone-project "$KEYSTONE_ADMIN_PROJECT" \
    --server-pid "$server" --json-out "$WORK/keystone-$round.json" ${BENCH_ARGS:-}
  stop
done

python3 - "$WORK" "${ROUNDS:-2}" <<'EOF'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
rate = lambda p: next(s for s in json.load(open(p))["scenarios"] if s["name"] == "show")["requests_per_s"]
n = [rate(f"{work}/noauth-{r}.json") for r in range(1, rounds + 1)]
k = [rate(f"{work}/keystone-{r}.json") for r in range(1, rounds + 1)]
for r in range(rounds):
    print(f"round {r + 1}: noauth {n[r]:.0f}/s, keystone {k[r]:.0f}/s = {100 * k[r] / n[r]:.0f}%")
print(f"show, keystone against noauth over {rounds} rounds: {100 * sum(k) / sum(n):.0f}%")
EOF
