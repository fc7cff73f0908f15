#!/usr/bin/env bash
# One row of the README's performance table: a fresh catalog of N images on one backend,
# loaded in bulk, then every glimpse-bench scenario (32 connections, 10 s each) against a
# release build of glimpse on this machine, with the server's memory sampled.
#
#   scripts/bench.sh sqlite 10000
#   scripts/bench.sh postgres 1000000      # needs the local PostgreSQL (trust auth)
#
# The v1 scenarios run against the registry API, the v2 ones (v2-show, v2-list, v2-list-filter,
# v2-patch) against the images API of the same server.
#
# Environment: WORK (scratch folder, default /tmp/glimpse-bench), PGURL (server URL without
# a database, default postgres://postgres@127.0.0.1), PORT (default 9391), IMAGES_PORT (the
# v2 images API, default 9392), CARGO_TARGET_DIR (where the release binaries are), BENCH_ARGS
# (extra glimpse-bench arguments, e.g. "--duration 5"), REUSE=1 (keep the catalog database of an
# earlier run of the same size instead of loading it again). Results: $WORK/<backend>-<N>.json.
#
# Before measuring, the database files are read once into the OS page cache (SQLite: the
# file; PostgreSQL: every table and index, with pg_prewarm): a server that has been running
# has its hot data cached, and a benchmark should not measure the first reads from disk.
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
IMAGES_PORT=${IMAGES_PORT:-9392}
cd "$(dirname "$0")/.."

cargo build --release --locked --bins
bin=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$WORK"
catalog="$WORK/catalog-$images.jsonl"
ids="$WORK/ids-$images.txt"
if [[ ! -s "$catalog" || ! -s "$ids" ]]; then
  "$bin/glimpse-bench" --images "$images" --write-catalog "$catalog" --ids-file "$ids"
fi

load=1
case "$backend" in
  sqlite)
    db="$WORK/bench-$images.db"
    if [[ ${REUSE:-0} == 1 && -s "$db" ]]; then
      load=0
    else
      rm -f "$db" "$db-wal" "$db-shm"
    fi
    url="sqlite://$db"
    ;;
  postgres)
    name="glimpse_bench_$images"
    if [[ ${REUSE:-0} == 1 ]] &&
      psql "$PGURL/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
      load=0
    else
      psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    fi
    url="$PGURL/$name"
    ;;
  *) echo "unknown backend: $backend (sqlite or postgres)" >&2; exit 2 ;;
esac

if [[ $load == 1 ]]; then
  # db import ends by refreshing planner statistics (and VACUUM on PostgreSQL).
  time "$bin/glimpse" db import --database "$url" --input "$catalog"
else
  echo "reusing the catalog database $url (REUSE=1)"
fi

echo "reading the database into the OS page cache"
case "$backend" in
  sqlite) cat "$db" >/dev/null ;;
  postgres)
    psql "$url" -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')" >/dev/null
    ;;
esac

"$bin/glimpse" serve --database "$url" --bind "127.0.0.1:$PORT" --images-bind "127.0.0.1:$IMAGES_PORT" \
  --store "file:$WORK/images" --log-level warn &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null &&
    curl -fsS -o /dev/null "http://127.0.0.1:$IMAGES_PORT/v2/images?limit=1" 2>/dev/null && break
  sleep 0.1
done

# shellcheck disable=SC2086
"$bin/glimpse-bench" --url "http://127.0.0.1:$PORT" --images-url "http://127.0.0.1:$IMAGES_PORT" \
  --skip-seed --ids-file "$ids" \
  --json-out "$WORK/$backend-$images.json" --server-pid "$server" ${BENCH_ARGS:-}
