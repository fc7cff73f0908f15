#!/usr/bin/env bash
# glimpse against the Python references, in one command, on one catalog:
#   v1 scenarios: glimpse's registry API vs glance-registry 20.2 (scripts/reference-registry.sh)
#   v2 scenarios: glimpse's images API  vs glance-api 33.0.0     (scripts/reference-glance.sh)
#
#   scripts/side-by-side.sh [IMAGES]          # default 1000 images
#
# It builds release, writes a catalog of IMAGES generated images (glimpse-bench
# --write-catalog), loads it into glimpse (SQLite, `glimpse db import`), into the registry's
# and into Glance 33's SQLite databases (scripts/reference-import.py), starts the three
# servers, then runs every scenario against glimpse and its reference in ROUNDS alternating
# rounds (glimpse first in odd rounds, the reference first in even ones; the scenarios that
# add images, create and mixed, in rounds of their own at the end), and prints one table:
# requests/s (mean of the rounds), their ratio, p99 latency (mean of the rounds) and the
# largest RSS of each server's processes (the sum over a server's process tree, sampled every
# 0.5 s) during its runs. Results: $WORK/results/*.json and $WORK/side-by-side.md.
#
# Servers: glimpse (all its threads, one process); glance-registry with WORKERS=1 (a parent
# and one worker process: two writers on SQLite fail with "database is locked"); glance-api
# under uWSGI with one process. None authenticates: every request is an admin's.
# `head` (the registry does not route it) and `healthz` (glimpse only) are left out.
#
# With REUSE=1 the catalog and the three databases loaded by an earlier run of the same size
# are used again instead of loaded anew (a million images take 10–15 min per server to load);
# the scenarios that add images grow them, which is negligible at that size, not at 1,000.
#
#   REUSE=1 DURATION=5 scripts/side-by-side.sh 1000000
#
# Environment: ROUNDS (2), DURATION (10 s per run), WARMUP (1 s), CONNECTIONS (32), REUSE (0),
# WORK (/tmp/glimpse-side-by-side), CARGO_TARGET_DIR (target), GLIMPSE_PORT (9491),
# GLIMPSE_IMAGES_PORT (9492), REGISTRY_PORT (19191), GLANCE_PORT (19292),
# V1_SCENARIOS, V2_SCENARIOS (comma-separated, to run fewer).
set -euo pipefail

images=${1:-1000}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
WORK=${WORK:-/tmp/glimpse-side-by-side}
GLIMPSE_PORT=${GLIMPSE_PORT:-9491}
GLIMPSE_IMAGES_PORT=${GLIMPSE_IMAGES_PORT:-9492}
REGISTRY_PORT=${REGISTRY_PORT:-19191}
GLANCE_PORT=${GLANCE_PORT:-19292}
V1_SCENARIOS=${V1_SCENARIOS:-show,list-brief,list-detail,filter-property,filter-half,filter-1pct,filter-one,filter-and-sort,page-walk,create,update,mixed}
V2_SCENARIOS=${V2_SCENARIOS:-v2-show,v2-list,v2-list-filter,v2-patch}
cd "$(dirname "$0")/.."
root=$PWD

cargo build --release --locked --bins
bin=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
rm -rf "$WORK/results"
mkdir -p "$WORK/results"
catalog="$WORK/catalog-$images.jsonl"
ids="$WORK/ids-$images.txt"
# What an earlier run loaded: a marker per server, naming the catalog size.
reusing() { # SERVER
  [[ ${REUSE:-0} == 1 && -s $catalog && -s $ids && -e "$WORK/$1-$images.loaded" ]]
}
loaded() { # SERVER: this server's database now holds the catalog of this size, and no other
  rm -f "$WORK/$1"-*.loaded
  touch "$WORK/$1-$images.loaded"
}
if ! reusing glimpse || ! reusing registry || ! reusing glance; then
  "$bin/glimpse-bench" --images "$images" --write-catalog "$catalog" --ids-file "$ids"
  rm -f "$WORK"/*.loaded
fi

glimpse_pid=
cleanup() {
  [[ -n $glimpse_pid ]] && kill "$glimpse_pid" 2>/dev/null || true
  PORT=$REGISTRY_PORT bash "$root/scripts/reference-registry.sh" --stop > /dev/null || true
  PORT=$GLANCE_PORT bash "$root/scripts/reference-glance.sh" stop > /dev/null || true
}
trap cleanup EXIT

wait_for() { # URL WHAT
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "$2 did not answer at $1" >&2
  exit 1
}

gdb="$WORK/glimpse-$images.db"
if reusing glimpse && [[ -s $gdb ]]; then
  echo "== glimpse: SQLite, $images images (reused)"
else
  echo "== glimpse: SQLite, $images images"
  rm -f "$gdb" "$gdb-wal" "$gdb-shm"
  "$bin/glimpse" db import --database "sqlite://$gdb" --input "$catalog"
  loaded glimpse
fi

rdb=${REFERENCE_DIR:-/tmp/glance-reference}/registry.db
PORT=$REGISTRY_PORT bash scripts/reference-registry.sh --stop > /dev/null
if reusing registry && [[ -s $rdb ]]; then
  echo "== glance-registry 20.2: $images images (reused)"
else
  echo "== glance-registry 20.2: $images images"
  PORT=$REGISTRY_PORT WORKERS=1 bash scripts/reference-registry.sh --background --fresh-db
  PORT=$REGISTRY_PORT bash scripts/reference-registry.sh --stop
  python3 scripts/reference-import.py --db "$rdb" "$catalog"
  loaded registry
fi

PORT=$GLANCE_PORT bash scripts/reference-glance.sh stop > /dev/null
adb=$(PORT=$GLANCE_PORT bash scripts/reference-glance.sh db-path)
if reusing glance && [[ -s $adb ]]; then
  echo "== glance-api 33: $images images (reused)"
else
  echo "== glance-api 33: $images images"
  PORT=$GLANCE_PORT bash scripts/reference-glance.sh fresh-db
  adb=$(PORT=$GLANCE_PORT bash scripts/reference-glance.sh db-path)
  python3 scripts/reference-import.py --store fs --db "$adb" "$catalog"
  loaded glance
fi

# Hot data in the page cache, as on a server that has been running.
cat "$gdb" "$rdb" "$adb" > /dev/null

"$bin/glimpse" serve --database "sqlite://$gdb" --bind "127.0.0.1:$GLIMPSE_PORT" \
  --images-bind "127.0.0.1:$GLIMPSE_IMAGES_PORT" --store "file:$WORK/images" \
  --log-level warn &
glimpse_pid=$!
PORT=$REGISTRY_PORT WORKERS=1 bash scripts/reference-registry.sh --background
PORT=$GLANCE_PORT bash scripts/reference-glance.sh start
wait_for "http://127.0.0.1:$GLIMPSE_PORT/readyz" glimpse
wait_for "http://127.0.0.1:$GLIMPSE_IMAGES_PORT/v2/images?limit=1" "glimpse's images API"
registry_pid=$(cat "${REFERENCE_DIR:-/tmp/glance-reference}/registry.pid")
glance_pid=$(cat "${RUN_DIR:-/tmp/glance33-reference}/glance-api.pid")

# The largest RSS (KiB) of PID and its children, written to FILE every 0.5 s until killed.
sample_rss() { # PID FILE
  local max=0 cur
  while true; do
    # (ps fails when there are no children: not an error here.)
    cur=$({ ps -o rss= -p "$1"; ps -o rss= --ppid "$1"; } 2>/dev/null | awk '{s += $1} END {print s + 0}' || true)
    ((cur > max)) && max=$cur
    echo "$max" > "$2"
    sleep 0.5
  done
}

# One run: SERVER (glimpse|registry|glance) SCENARIO ROUND
run_one() {
  local server=$1 sc=$2 round=$3 url images_url pid
  case $server in
    glimpse) url=http://127.0.0.1:$GLIMPSE_PORT images_url=http://127.0.0.1:$GLIMPSE_IMAGES_PORT pid=$glimpse_pid ;;
    registry) url=http://127.0.0.1:$REGISTRY_PORT images_url= pid=$registry_pid ;;
    glance) url=http://127.0.0.1:$GLANCE_PORT images_url=http://127.0.0.1:$GLANCE_PORT pid=$glance_pid ;;
  esac
  local out="$WORK/results/$sc.$server.$round"
  sample_rss "$pid" "$out.rss" &
  local sampler=$!
  local extra=()
  [[ -n $images_url ]] && extra=(--images-url "$images_url")
  "$bin/glimpse-bench" --url "$url" "${extra[@]}" --skip-seed --ids-file "$ids" \
    --scenarios "$sc" --duration "$DURATION" --warmup "$WARMUP" -c "$CONNECTIONS" \
    --json-out "$out.json" > "$out.log" 2>&1 || true
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  grep -E "^$sc " "$out.log" | head -1 | sed "s/^/  round $round $server: /" || true
}

# The scenarios that add images (create, and mixed's 4 % of creates) run after the rounds of
# all the others: glimpse creates some 700 images/s and the references 25, so a catalog of
# 1,000 would otherwise be 15 times larger on glimpse's side (whose one database serves both
# APIs) for every scenario after the first create.
grows() { [[ $1 == create || $1 == mixed ]]; }
for phase in steady growing; do
  for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS ($phase)"
    for pair in "registry:$V1_SCENARIOS" "glance:$V2_SCENARIOS"; do
      ref=${pair%%:*}
      IFS=, read -ra scs <<< "${pair#*:}"
      for sc in "${scs[@]}"; do
        if grows "$sc"; then [[ $phase == growing ]] || continue; else [[ $phase == steady ]] || continue; fi
        if ((round % 2 == 1)); then
          run_one glimpse "$sc" "$round"
          run_one "$ref" "$sc" "$round"
        else
          run_one "$ref" "$sc" "$round"
          run_one glimpse "$sc" "$round"
        fi
      done
    done
  done
done

python3 - "$WORK/results" "$V1_SCENARIOS,$V2_SCENARIOS" "$images" "$ROUNDS" "$DURATION" "$CONNECTIONS" > "$WORK/side-by-side.md" <<'EOF'
import glob, json, os, sys
results, names, images, rounds, duration, conns = sys.argv[1:]
def runs(sc, server):
    out = []
    for path in sorted(glob.glob(os.path.join(results, '%s.%s.*.json' % (sc, server)))):
        with open(path) as f:
            r = json.load(f)['scenarios'][0]
        rss_path = path[:-5] + '.rss'
        rss = int(open(rss_path).read().strip() or 0) if os.path.exists(rss_path) else 0
        out.append((r['requests_per_s'], r['latency_ms']['p99'], r['errors'], rss))
    return out
def mean(xs):
    return sum(xs) / len(xs) if xs else float('nan')
print('%s images, %s rounds of %s s, %s connections; req/s and p99: mean of the rounds; '
      'RSS: the largest of the server\'s processes together during its runs'
      % (images, rounds, duration, conns))
print()
print('| scenario | reference | glimpse req/s | reference req/s | ratio | glimpse p99 ms '
      '| reference p99 ms | glimpse RSS MiB | reference RSS MiB | errors (glimpse / reference) |')
print('|---|---|---|---|---|---|---|---|---|---|')
for sc in names.split(','):
    ref = 'glance 33' if sc.startswith('v2-') else 'registry 20.2'
    g = runs(sc, 'glimpse')
    r = runs(sc, 'glance' if sc.startswith('v2-') else 'registry')
    if not g or not r:
        print('| %s | %s | (no result) | | | | | | | |' % (sc, ref))
        continue
    gq, rq = mean([x[0] for x in g]), mean([x[0] for x in r])
    ratio = '%.1f×' % (gq / rq) if rq > 0 else '–'
    print('| %s | %s | %.0f | %.0f | %s | %.1f | %.1f | %.0f | %.0f | %d / %d |' % (
        sc, ref, gq, rq, ratio, mean([x[1] for x in g]), mean([x[1] for x in r]),
        max(x[3] for x in g) / 1024, max(x[3] for x in r) / 1024,
        sum(x[2] for x in g), sum(x[2] for x in r)))
EOF
echo
cat "$WORK/side-by-side.md"
echo
echo "(table in $WORK/side-by-side.md, runs in $WORK/results)"
