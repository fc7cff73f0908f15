#!/usr/bin/env bash
# How near PostgreSQL's limit glimpse's point reads come, measured in one run on this machine:
#
#   healthz   glimpse answering without the database: the HTTP ceiling
#   pgbench   `pgbench -S -M prepared` with glimpse's pool size as its client count: the
#             database's point-read ceiling
#   show      glimpse's `GET /images/<id>` on PostgreSQL
#
# Both ceilings compete for the same cores, so the combined one is 1 / (1/healthz + 1/pgbench);
# the script prints show / combined. ROUNDS alternating rounds (healthz, pgbench, show; then
# show, pgbench, healthz), means printed at the end.
#
#   scripts/bench.sh postgres 10000      # once: loads the catalog database glimpse_bench_10000
#   scripts/pg-ceiling.sh 10000
#
# Environment: PGURL (postgres://postgres@127.0.0.1), POOL (glimpse's --db-max-connections and
# pgbench's clients, 16), CONNECTIONS (glimpse-bench's, 32), DURATION (10 s), ROUNDS (2),
# PGBENCH_SCALE (10: a million accounts), WORK (/tmp/glimpse-bench, where bench.sh keeps the ids),
# PORT (9391), CARGO_TARGET_DIR.
set -euo pipefail

images=${1:-10000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1}
POOL=${POOL:-16}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
WORK=${WORK:-/tmp/glimpse-bench}
PORT=${PORT:-9391}
cd "$(dirname "$0")/.."

cargo build --release --locked --bins
bin=${CARGO_TARGET_DIR:-target}/release
db="glimpse_bench_$images"
ids="$WORK/ids-$images.txt"
if ! psql "$PGURL/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
  [[ ! -s $ids ]]; then
  echo "no catalog database $db (or no $ids): run scripts/bench.sh postgres $images first" >&2
  exit 2
fi

# pgbench's own database, initialised once.
if ! psql "$PGURL/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = 'glimpse_pgbench'" | grep -q 1; then
  psql "$PGURL/postgres" -qc "CREATE DATABASE glimpse_pgbench"
  pgbench -q -i -s "$PGBENCH_SCALE" "$PGURL/glimpse_pgbench"
fi
psql "$PGURL/glimpse_pgbench" -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
  -c "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c WHERE c.relname LIKE 'pgbench_%'" >/dev/null

"$bin/glimpse" serve --database "$PGURL/$db" --bind "127.0.0.1:$PORT" --images-api false \
  --db-max-connections "$POOL" --log-level warn &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
  sleep 0.1
done

glimpse_rate() { # SCENARIO -> requests/s
  "$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" \
    --connections "$CONNECTIONS" --duration "$DURATION" --scenarios "$1" --json-out "$WORK/ceiling-$1.json" \
    > /dev/null
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenarios"][0]["requests_per_s"])' \
    "$WORK/ceiling-$1.json"
}
pgbench_rate() {
  pgbench -n -S -M prepared -c "$POOL" -j 2 -T "$DURATION" "$PGURL/glimpse_pgbench" 2>/dev/null |
    awk '/^tps/ { print $3; exit }'
}

declare -A sum=([healthz]=0 [pgbench]=0 [show]=0)
for round in $(seq 1 "$ROUNDS"); do
  order=(healthz pgbench show)
  ((round % 2 == 0)) && order=(show pgbench healthz)
  for what in "${order[@]}"; do
    case $what in
      pgbench) rate=$(pgbench_rate) ;;
      *) rate=$(glimpse_rate "$what") ;;
    esac
    printf 'round %d  %-8s %10.0f/s\n' "$round" "$what" "$rate"
    sum[$what]=$(python3 -c "print(${sum[$what]} + $rate)")
  done
done

python3 - "$ROUNDS" "${sum[healthz]}" "${sum[pgbench]}" "${sum[show]}" <<'EOF'
import sys
rounds = int(sys.argv[1])
healthz, pgbench, show = (float(v) / rounds for v in sys.argv[2:5])
ceiling = 1 / (1 / healthz + 1 / pgbench)
print(f"healthz {healthz:.0f}/s  pgbench -S {pgbench:.0f}/s  combined ceiling {ceiling:.0f}/s")
print(f"show {show:.0f}/s = {100 * show / ceiling:.0f} % of the combined ceiling")
EOF
