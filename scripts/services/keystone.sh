#!/usr/bin/env bash
# A real OpenStack Keystone for the tests: keystone 30.0.0 served by uWSGI on loopback, on SQLite.
#
#   scripts/services/keystone.sh ensure   install (once, cached), bootstrap, start, create the
#                                         fixtures; prints KEY=VALUE lines; idempotent
#   scripts/services/keystone.sh env      print the KEY=VALUE lines of a running Keystone
#   scripts/services/keystone.sh stop     stop the uWSGI servers
#
# Two servers share one database and one set of fernet keys: the main one on $KEYSTONE_PORT
# (tokens live an hour) and a short-lived one on $KEYSTONE_SHORT_PORT whose tokens expire after
# $KEYSTONE_SHORT_EXPIRATION seconds, so tests can hold a genuinely expired token.
#
# Facts this relies on: uWSGI (compiled from PyPI on first install, a few minutes) serves
# keystone.wsgi.api:application with the config named by OS_KEYSTONE_CONFIG_FILES (gunicorn does
# not: oslo.config parses gunicorn's own arguments); SQLite needs WAL mode and one worker per
# server process (threads are fine), or concurrent logins fail with "database is locked"; the service user needs the
# `service` role to validate other users' tokens.
#
# Environment: GLIMPSE_SERVICES_DIR (~/.cache/glimpse-services), KEYSTONE_PORT (35357),
# KEYSTONE_SHORT_PORT (35358), KEYSTONE_SHORT_EXPIRATION (4), PYTHON (python3, 3.11).
set -euo pipefail

BASE="${GLIMPSE_SERVICES_DIR:-$HOME/.cache/glimpse-services}/keystone"
PORT="${KEYSTONE_PORT:-35357}"
SHORT_PORT="${KEYSTONE_SHORT_PORT:-35358}"
SHORT_EXPIRATION="${KEYSTONE_SHORT_EXPIRATION:-4}"
PYTHON="${PYTHON:-python3}"
VENV="$BASE/venv"
KEYSTONE_VERSION=30.0.0
ADMIN_PASSWORD=glimpse-admin-secret
PASSWORD=glimpse-test-secret
DOMAIN=Default
AUTH_URL="http://127.0.0.1:$PORT/v3"

die() { echo "keystone.sh: $*" >&2; exit 1; }

print_env() {
  cat <<EOF
KEYSTONE_AUTH_URL=$AUTH_URL
KEYSTONE_SHORT_AUTH_URL=http://127.0.0.1:$SHORT_PORT/v3
KEYSTONE_SHORT_EXPIRATION=$SHORT_EXPIRATION
KEYSTONE_DOMAIN=$DOMAIN
KEYSTONE_ADMIN_USER=admin
KEYSTONE_ADMIN_PASSWORD=$ADMIN_PASSWORD
KEYSTONE_ADMIN_PROJECT=admin
KEYSTONE_SERVICE_USER=glimpse
KEYSTONE_SERVICE_PASSWORD=$PASSWORD
KEYSTONE_SERVICE_PROJECT=service
KEYSTONE_PROJECTS=alpha beta gamma
KEYSTONE_ALPHA_MEMBER=alpha-member
KEYSTONE_ALPHA_READER=alpha-reader
KEYSTONE_BETA_MEMBER=beta-member
KEYSTONE_BETA_READER=beta-reader
KEYSTONE_GAMMA_MEMBER=gamma-member
KEYSTONE_GAMMA_READER=gamma-reader
KEYSTONE_USER_PASSWORD=$PASSWORD
EOF
}

install_venv() {
  [[ -f "$VENV/.installed-$KEYSTONE_VERSION" ]] && return 0
  echo "keystone.sh: installing keystone $KEYSTONE_VERSION and uWSGI into $VENV (uWSGI compiles: a few minutes)" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv with $PYTHON"
  "$VENV/bin/pip" install --quiet --upgrade pip >&2 || die "pip upgrade failed"
  "$VENV/bin/pip" install --quiet "keystone==$KEYSTONE_VERSION" uwsgi >&2 \
    || die "pip install keystone==$KEYSTONE_VERSION uwsgi failed"
  touch "$VENV/.installed-$KEYSTONE_VERSION"
}

write_config() { # file expiration
  cat >"$1" <<EOF
[DEFAULT]
log_file = $BASE/keystone.log
[database]
connection = sqlite:///$BASE/keystone.db
[token]
provider = fernet
expiration = $2
[fernet_tokens]
key_repository = $BASE/fernet-keys
[credential]
key_repository = $BASE/credential-keys
[identity]
password_hash_rounds = 4
EOF
}

write_uwsgi() { # name port config
  cat >"$BASE/$1.ini" <<EOF
[uwsgi]
http-socket = 127.0.0.1:$2
module = keystone.wsgi.api:application
env = OS_KEYSTONE_CONFIG_FILES=$3
master = true
processes = 1
threads = 4
listen = 128
# uWSGI's http-socket does not keep connections alive: say so, or pooled clients reuse a closed one.
add-header = Connection: close
die-on-term = true
pidfile = $BASE/$1.pid
logto = $BASE/$1.uwsgi.log
EOF
}

bootstrap() {
  [[ -f "$BASE/.bootstrapped" ]] && return 0
  rm -rf "$BASE/keystone.db" "$BASE/fernet-keys" "$BASE/credential-keys"
  mkdir -p "$BASE/fernet-keys" "$BASE/credential-keys"
  local manage=("$VENV/bin/keystone-manage" --config-file "$BASE/keystone.conf")
  "${manage[@]}" db_sync >&2 || die "keystone-manage db_sync failed (see $BASE/keystone.log)"
  "$VENV/bin/python" - "$BASE/keystone.db" <<'EOF' || die "cannot set WAL mode"
import sqlite3, sys
sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchall()
EOF
  "${manage[@]}" fernet_setup --keystone-user root --keystone-group root >&2 || die "fernet_setup failed"
  "${manage[@]}" credential_setup --keystone-user root --keystone-group root >&2 || die "credential_setup failed"
  "${manage[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$AUTH_URL" --bootstrap-public-url "$AUTH_URL" \
    --bootstrap-internal-url "$AUTH_URL" >&2 || die "keystone-manage bootstrap failed"
  touch "$BASE/.bootstrapped"
}

answers() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/v3" 2>/dev/null; }

start() { # name port
  answers "$2" && return 0
  if [[ -f "$BASE/$1.pid" ]]; then kill "$(cat "$BASE/$1.pid")" 2>/dev/null || true; fi
  # fd 9 (the lock) must not be inherited, or the server would hold it for its lifetime.
  setsid nohup "$VENV/bin/uwsgi" --ini "$BASE/$1.ini" </dev/null >/dev/null 2>&1 9>&- &
  for _ in $(seq 1 60); do answers "$2" && return 0; sleep 0.5; done
  die "$1 did not answer on 127.0.0.1:$2 within 30 s (see $BASE/$1.uwsgi.log)"
}

fixtures() {
  [[ -f "$BASE/.fixtures-v2" ]] && return 0
  "$VENV/bin/python" - "$AUTH_URL" "$ADMIN_PASSWORD" "$PASSWORD" <<'EOF' || die "creating the fixtures failed"
"""Service user, projects and users, created through the Keystone API (idempotent)."""
import json, sys, urllib.request, urllib.error

url, admin_password, password = sys.argv[1:4]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.headers, (json.loads(raw) if raw else None)

headers, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": admin_password}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
token = headers["X-Subject-Token"]

def ensure(kind, name, body):
    _, found = call("GET", f"/{kind}?name={name}", token=token)
    if found[kind]:
        return found[kind][0]["id"]
    _, made = call("POST", f"/{kind}", {kind[:-1]: body}, token=token)
    return made[kind[:-1]]["id"]

roles = {r: ensure("roles", r, {"name": r}) for r in ("admin", "member", "reader", "service")}

def project(name):
    return ensure("projects", name, {"name": name, "domain_id": "default"})

def user(name, project_id):
    return ensure("users", name, {"name": name, "domain_id": "default", "password": password,
                                  "default_project_id": project_id})

def grant(project_id, user_id, role):
    call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{roles[role]}", token=token)

service = project("service")
grant(service, user("glimpse", service), "service")
for p in ("alpha", "beta", "gamma"):
    pid = project(p)
    grant(pid, user(f"{p}-member", pid), "member")
    grant(pid, user(f"{p}-reader", pid), "reader")
EOF
  touch "$BASE/.fixtures-v2"
}

ensure() {
  mkdir -p "$BASE"
  exec 9>"$BASE/lock"
  flock -w 900 9 || die "another keystone.sh holds $BASE/lock for more than 15 minutes"
  if answers "$PORT" && answers "$SHORT_PORT" && [[ -f "$BASE/.fixtures-v2" ]]; then
    print_env
    return 0
  fi
  install_venv
  write_config "$BASE/keystone.conf" 3600
  write_config "$BASE/keystone-short.conf" "$SHORT_EXPIRATION"
  write_uwsgi main "$PORT" "$BASE/keystone.conf"
  write_uwsgi short "$SHORT_PORT" "$BASE/keystone-short.conf"
  bootstrap
  start main "$PORT"
  start short "$SHORT_PORT"
  fixtures
  print_env
}

stop() {
  local name
  for name in main short; do
    if [[ -f "$BASE/$name.pid" ]]; then kill "$(cat "$BASE/$name.pid")" 2>/dev/null || true; fi
  done
}

case "${1:-}" in
  ensure) ensure ;;
  env) answers "$PORT" || die "Keystone is not running on 127.0.0.1:$PORT; run: $0 ensure"; print_env ;;
  stop) stop ;;
  *) die "usage: $0 ensure|env|stop" ;;
esac
