#!/usr/bin/env bash
# Python reference for the v2 images API: OpenStack Glance 33.0.0 (glance-api) from PyPI,
# under uWSGI with one worker process, on SQLite, with a file store in a scratch folder and
# no authentication (every request is an admin context), on 127.0.0.1:$PORT. The v2 twin of
# scripts/reference-registry.sh, so glimpse-bench's v2 scenarios can be pointed at it and at
# glimpse alike.
#
# Usage:
#   scripts/reference-glance.sh ensure     # install (once), write the config, db_sync
#   scripts/reference-glance.sh start      # ensure, start in the background, wait until it
#                                          # answers; writes $RUN_DIR/glance-api.pid
#   scripts/reference-glance.sh stop       # stop a started server
#   scripts/reference-glance.sh run        # ensure, then run in the foreground
#   scripts/reference-glance.sh fresh-db   # delete the database, then db_sync an empty one
#   scripts/reference-glance.sh db-path    # print the SQLite file (for reference-import.py)
#
# Environment: GLANCE_DIR (the install, default ~/.cache/glimpse-services/glance33),
# RUN_DIR (config, database, store and logs, default /tmp/glance33-reference), PORT (19292),
# PYTHON (python3; tested with 3.11).
#
# How the configuration comes about:
#   no auth       [paste_deploy] flavor is left empty, so glance-api-paste.ini's plain
#                 `glance-api` pipeline is used: unauthenticated-context makes every request
#                 an admin context (is_admin, no project), like glimpse-bench's no-token mode.
#                 Glance 33 enforces the new policy defaults, which check roles, not is_admin;
#                 Without a policy file it answers 403 ("not authorized to complete
#                 get_images"), so one grants every rule ("@").
#   uWSGI         the app is glance.wsgi.api:application (what glance-wsgi-api used to run),
#                 one process, no master, one thread; OS_GLANCE_CONFIG_DIR points it at
#                 $RUN_DIR/etc.
#   store         enabled_backends = fs:file, the staging and tasks stores under $RUN_DIR;
#                 the catalog's locations carry {"store": "fs"} (reference-import.py
#                 --store fs), so Glance does not rewrite them on first read.
#   database      [database] connection = sqlite:///$RUN_DIR/glance.db, created by
#                 `glance-manage db_sync`.
set -euo pipefail

GLANCE_VERSION=33.0.0
GLANCE_DIR=${GLANCE_DIR:-$HOME/.cache/glimpse-services/glance33}
RUN_DIR=${RUN_DIR:-/tmp/glance33-reference}
PORT=${PORT:-19292}
PYTHON=${PYTHON:-python3}

VENV="$GLANCE_DIR/venv"
ETC="$RUN_DIR/etc"
DB="$RUN_DIR/glance.db"
PIDFILE="$RUN_DIR/glance-api.pid"
LOG="$RUN_DIR/glance-api.log"

install() {
  if [[ -x "$VENV/bin/uwsgi" && -x "$VENV/bin/glance-manage" ]] &&
    "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('glance') != '$GLANCE_VERSION')" 2>/dev/null; then
    return
  fi
  mkdir -p "$GLANCE_DIR"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "glance==$GLANCE_VERSION" uwsgi
  "$VENV/bin/python" -m pip freeze > "$GLANCE_DIR/pip-freeze.txt"
}

configure() {
  mkdir -p "$ETC" "$RUN_DIR/images" "$RUN_DIR/staging" "$RUN_DIR/tasks"
  cp "$VENV/etc/glance/glance-api-paste.ini" "$ETC/glance-api-paste.ini"
  cat > "$ETC/glance-api.conf" <<EOF
[DEFAULT]
enabled_backends = fs:file
# The uWSGI app serves on uWSGI's socket; these matter only to glance's own checks.
bind_host = 127.0.0.1
bind_port = ${PORT}
worker_self_reference_url = http://127.0.0.1:${PORT}
log_file = ${RUN_DIR}/glance.log
debug = false

[database]
connection = sqlite:///${DB}

[paste_deploy]
# Empty flavor: the plain glance-api pipeline (unauthenticated-context: every request is an
# admin context).
flavor =
config_file = ${ETC}/glance-api-paste.ini

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = ${RUN_DIR}/images

[os_glance_staging_store]
filesystem_store_datadir = ${RUN_DIR}/staging

[os_glance_tasks_store]
filesystem_store_datadir = ${RUN_DIR}/tasks

[oslo_policy]
policy_file = ${ETC}/policy.yaml
EOF
  # Every rule glance registers, granted to anyone: the caller is the no-auth admin.
  OS_GLANCE_CONFIG_DIR="$ETC" "$VENV/bin/oslopolicy-sample-generator" --namespace glance \
    --output-file "$ETC/policy.sample.yaml" > /dev/null 2>&1 || true
  if [[ -s "$ETC/policy.sample.yaml" ]]; then
    sed -nE 's/^#"([^"]+)":.*/"\1": "@"/p' "$ETC/policy.sample.yaml" | sort -u > "$ETC/policy.yaml"
  fi
  if [[ ! -s "$ETC/policy.yaml" ]]; then
    echo "could not list glance's policy rules (oslopolicy-sample-generator)" >&2
    exit 1
  fi
}

db_sync() {
  OS_GLANCE_CONFIG_DIR="$ETC" PYTHONWARNINGS=ignore "$VENV/bin/glance-manage" \
    --config-file "$ETC/glance-api.conf" db_sync > "$RUN_DIR/db_sync.log" 2>&1 ||
    { cat "$RUN_DIR/db_sync.log" >&2; exit 1; }
}

ensure() {
  install
  configure
  db_sync
}

running() {
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# One process, one thread, HTTP on the loopback port; --die-on-term so SIGTERM stops it; no
# per-request log line (glance-api logs to $RUN_DIR/glance.log). One connection per request:
# the single worker serves one connection at a time, so with keep-alive (--http11-socket) the
# first client would hold it and the others wait until they time out; --http-socket closes
# the connection after each answer, and the Connection: close header says so (without it,
# clients reuse the closed connection and fail).
UWSGI=("$VENV/bin/uwsgi" --http-socket "127.0.0.1:$PORT" --add-header "Connection: close"
  --module glance.wsgi.api:application --processes 1 --threads 1 --die-on-term --need-app
  --env "OS_GLANCE_CONFIG_DIR=$ETC" --home "$VENV" --buffer-size 65535 --disable-logging)

stop() {
  if running; then
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    echo "stopped glance-api (pid $pid)"
  else
    echo "glance-api is not running"
  fi
  rm -f "$PIDFILE"
}

start() {
  if running; then
    echo "glance-api already running (pid $(cat "$PIDFILE"))"
    return
  fi
  ensure
  nohup "${UWSGI[@]}" > "$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/images?limit=1" 2>/dev/null; then
      echo "glance-api $GLANCE_VERSION on http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOG)"
      return
    fi
    if ! running; then
      echo "glance-api exited; see $LOG and $RUN_DIR/glance.log" >&2
      tail -20 "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.2
  done
  echo "glance-api did not answer on port $PORT within 30s; see $LOG" >&2
  exit 1
}

case "${1:-}" in
  ensure) ensure ;;
  start) start ;;
  stop) stop ;;
  run)
    ensure
    echo "glance-api $GLANCE_VERSION on http://127.0.0.1:$PORT ($DB)"
    exec "${UWSGI[@]}"
    ;;
  fresh-db)
    if running; then
      echo "stop glance-api first" >&2
      exit 1
    fi
    install
    configure
    rm -f "$DB" "$DB-wal" "$DB-shm"
    db_sync
    ;;
  db-path) echo "$DB" ;;
  -h | --help | help) sed -n '2,35p' "$0" ;;
  *)
    echo "usage: $0 ensure|start|stop|run|fresh-db|db-path" >&2
    exit 2
    ;;
esac
