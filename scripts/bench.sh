#!/usr/bin/env bash
# One row of the README's performance table: a fresh catalog of N images on one backend,
# loaded in bulk, then every glimpse-bench scenario (32 connections, 10 s each) against a
# release build of glimpse on this machine, with the server's memory sampled.
#
#   scripts/bench.sh sqlite 10000
#   scripts/bench.sh postgres 1000000      # needs the local PostgreSQL (trust auth)
#
# Environment: WORK (scratch folder, default /tmp/glimpse-bench), PGURL (server URL without
# a database, default postgres://postgres@127.0.0.1), PORT (default 9391), and BENCH_ARGS
# (extra glimpse-bench arguments, e.g. "--duration 5"). Results: $WORK/<backend>-<N>.json.
#
# The catalog is written by `glimpse-bench --write-catalog` and loaded with
# `glimpse db import` (a million images in minutes; seeding through the API, which is what
# glimpse-bench does against any other registry, runs at ~1,000 images/s here).
set -euo pipefail

backend=${1:?usage: scripts/bench.sh sqlite|postgres IMAGES}
images=${2:-10000}
WORK=${WORK:-/tmp/glimpse-bench}
PGURL=${PGURL:-postgres://postgres@127.0.0.1}
PORT=${PORT:-9391}
cd "$(dirname "$0")/.."

cargo build --release --locked --bins
bin=target/release
mkdir -p "$WORK"
catalog="$WORK/catalog-$images.jsonl"
ids="$WORK/ids-$images.txt"
if [[ ! -s "$catalog" || ! -s "$ids" ]]; then
  "$bin/glimpse-bench" --images "$images" --write-catalog "$catalog" --ids-file "$ids"
fi

case "$backend" in
  sqlite)
    db="$WORK/bench-$images.db"
    rm -f "$db" "$db-wal" "$db-shm"
    url="sqlite://$db"
    ;;
  postgres)
    name="glimpse_bench_$images"
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    url="$PGURL/$name"
    ;;
  *) echo "unknown backend: $backend (sqlite or postgres)" >&2; exit 2 ;;
esac

# db import ends by refreshing planner statistics (and VACUUM on PostgreSQL).
time "$bin/glimpse" db import --database "$url" --input "$catalog"

"$bin/glimpse" serve --database "$url" --bind "127.0.0.1:$PORT" --log-level warn &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
  sleep 0.1
done

# shellcheck disable=SC2086
"$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --skip-seed --ids-file "$ids" \
  --json-out "$WORK/$backend-$images.json" --server-pid "$server" ${BENCH_ARGS:-}
