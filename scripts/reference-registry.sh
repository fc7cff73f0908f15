#!/usr/bin/env bash
# Python reference for side-by-side benchmarks: installs and runs the original
# OpenStack Glance v1 registry server (glance-registry from glance==20.2.0, the
# last series that still ships it) on SQLite, so glimpse-bench can be pointed
# at it and at glimpse with the same scenarios.
#
# It creates a virtualenv under $REFERENCE_DIR (default /tmp/glance-reference),
# pip-installs glance with the pins it needs on CPython 3.11, writes
# glance-registry.conf + glance-registry-paste.ini (no-auth pipeline: every
# request is an admin context, like glimpse-bench's no-token mode), creates
# the schema with glance-manage db_sync, and starts glance-registry on
# 127.0.0.1:$PORT.
#
# Usage:
#   scripts/reference-registry.sh                # run in the foreground
#   scripts/reference-registry.sh --background   # start, wait until it answers,
#                                                # write $REFERENCE_DIR/registry.pid
#   scripts/reference-registry.sh --stop         # stop a --background server
#   add --fresh-db to start from an empty database
#
# Environment: REFERENCE_DIR (/tmp/glance-reference), PORT (9191),
# WORKERS (2), PYTHON (python3; needs 3.8+, tested with 3.11).
#
# Why the pins (everything else resolves to current releases):
#   SQLAlchemy==1.3.24      glance 20 uses oslo_db.sqlalchemy.migration and
#                           sqlalchemy-migrate; SQLAlchemy<1.4 makes pip pick
#                           oslo.db 10.0.0, which still has them.
#   oslo.middleware==6.6.0  glance's registry paste pipeline uses the
#                           healthcheck *filter*; oslo.middleware>=7 refuses it
#                           ("HealthcheckMiddleware should be deployed as an
#                           app, not a filter").
# And one runtime shim: glance-manage 20.2.0 registers its legacy db_*
# sub-commands once per `db` action (an indentation bug), which Python>=3.11's
# argparse rejects ("conflicting subparser: db_version"); manage_shim.py below
# registers them once and runs the normal glance-manage entry point.
#
# The reference answers 404 to HEAD /images/<id> (its v1 registry routes only
# GET/PUT/DELETE there), so glimpse-bench's `head` scenario reports errors
# against it: run it with --scenarios show,list-brief,list-detail,filter-property,
# filter-and-sort,page-walk,create,update,mixed (`mixed` sends no HEAD).
set -euo pipefail

REFERENCE_DIR=${REFERENCE_DIR:-/tmp/glance-reference}
PORT=${PORT:-9191}
WORKERS=${WORKERS:-2}
PYTHON=${PYTHON:-python3}

GLANCE_VERSION=20.2.0
PINS=(
  "glance==${GLANCE_VERSION}"
  "SQLAlchemy==1.3.24"
  "oslo.middleware==6.6.0"
)

background=0
fresh_db=0
for arg in "$@"; do
  case "$arg" in
    --background) background=1 ;;
    --fresh-db) fresh_db=1 ;;
    --stop)
      pidfile="$REFERENCE_DIR/registry.pid"
      if [[ -f "$pidfile" ]]; then
        pid=$(cat "$pidfile")
        # The parent stops its worker processes on SIGTERM.
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.2
        done
        rm -f "$pidfile"
        echo "stopped glance-registry (pid $pid)"
      else
        echo "no $pidfile: nothing to stop"
      fi
      exit 0
      ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

VENV="$REFERENCE_DIR/venv"
ETC="$REFERENCE_DIR/etc"
DB="$REFERENCE_DIR/registry.db"
mkdir -p "$REFERENCE_DIR" "$ETC"

# 1. virtualenv + glance with the pins (skipped when already installed).
if [[ ! -x "$VENV/bin/glance-registry" ]] \
   || ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('glance') != '${GLANCE_VERSION}')" 2>/dev/null; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
  "$VENV/bin/python" -m pip freeze > "$REFERENCE_DIR/pip-freeze.txt"
fi

# 2. Config. The paste file ships in the package's etc/ (installed as data
# files under the venv's etc/glance/).
cp "$VENV/etc/glance/glance-registry-paste.ini" "$ETC/glance-registry-paste.ini"
cat > "$ETC/glance-registry.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = ${PORT}
workers = ${WORKERS}

[database]
connection = sqlite:///${DB}

[paste_deploy]
# Empty flavor: the "glance-registry" pipeline with unauthenticated-context,
# i.e. every request is an admin context.
flavor =
config_file = ${ETC}/glance-registry-paste.ini
EOF

cat > "$REFERENCE_DIR/manage_shim.py" <<'EOF'
# glance 20.2.0's glance-manage registers its legacy db_* subparsers once per
# `db` action; Python >= 3.11 argparse rejects duplicate subparser names.
# Register them only once, then run the normal entry point.
import sys

import glance.cmd.manage as manage

_orig = manage.add_legacy_command_parsers
_seen = set()


def _once(command_object, subparsers):
    if id(subparsers) not in _seen:
        _seen.add(id(subparsers))
        _orig(command_object, subparsers)


manage.add_legacy_command_parsers = _once
sys.exit(manage.main())
EOF

# 3. Schema.
if [[ $fresh_db -eq 1 ]]; then
  rm -f "$DB"
fi
PYTHONWARNINGS=ignore "$VENV/bin/python" "$REFERENCE_DIR/manage_shim.py" \
  --config-file "$ETC/glance-registry.conf" db_sync > "$REFERENCE_DIR/db_sync.log" 2>&1 \
  || { cat "$REFERENCE_DIR/db_sync.log" >&2; exit 1; }

# 4. Start.
cmd=("$VENV/bin/glance-registry" --config-file "$ETC/glance-registry.conf")
if [[ $background -eq 0 ]]; then
  echo "glance-registry ${GLANCE_VERSION} on http://127.0.0.1:${PORT} (${WORKERS} workers, ${DB})"
  exec "${cmd[@]}"
fi

pidfile="$REFERENCE_DIR/registry.pid"
if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "already running (pid $(cat "$pidfile")); use --stop first" >&2
  exit 1
fi
nohup "${cmd[@]}" > "$REFERENCE_DIR/registry.log" 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:${PORT}/images" 2>/dev/null; then
    echo "glance-registry ${GLANCE_VERSION} on http://127.0.0.1:${PORT} (pid $(cat "$pidfile"), log $REFERENCE_DIR/registry.log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "glance-registry exited; see $REFERENCE_DIR/registry.log" >&2
    tail -20 "$REFERENCE_DIR/registry.log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.2
done
echo "glance-registry did not answer on port ${PORT} within 20s; see $REFERENCE_DIR/registry.log" >&2
exit 1
