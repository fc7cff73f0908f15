#!/usr/bin/env bash
# nginx for the load-balancer tests: ensures Debian's nginx binary is installed (the tests start
# their own nginx instances on free ports). `nginx.sh ensure` prints NGINX_BIN and NGINX_VERSION.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

find_nginx() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

ensure_nginx() {
  local bin
  bin="$(find_nginx)"
  if [ -z "$bin" ]; then
    [ "$(id -u)" = 0 ] || fail "nginx is missing and installing it needs root: apt-get install nginx-light"
    note "nginx is missing; installing Debian's nginx-light"
    export DEBIAN_FRONTEND=noninteractive
    # The lists may be missing or stale on a fresh machine: update once, then retry.
    if ! apt-get install -y --no-install-recommends nginx-light >&2 &&
      ! { apt-get update >&2 && apt-get install -y --no-install-recommends nginx-light >&2; } &&
      ! apt-get install -y --no-install-recommends nginx >&2; then
      fail "apt-get could not install nginx-light or nginx"
    fi
    # Debian's package starts a system nginx on port 80; the tests do not use it.
    if [ -x /usr/sbin/service ] || command -v service >/dev/null; then
      service nginx stop >/dev/null 2>&1 || true
    fi
    bin="$(find_nginx)"
    [ -n "$bin" ] || fail "nginx was installed but no nginx binary was found"
  fi
  local version
  version="$("$bin" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')"
  [ -n "$version" ] || fail "$bin -v did not print a version"
  echo "NGINX_BIN=$bin"
  echo "NGINX_VERSION=$version"
}

ensure_main nginx ensure_nginx "$@"
