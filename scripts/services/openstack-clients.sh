#!/usr/bin/env bash
# The OpenStack command-line clients for the v2 tests: python-openstackclient, openstacksdk and
# python-glanceclient from PyPI, in a virtualenv in the cache (one per version of the pins in
# openstack-clients.txt). `openstack-clients.sh ensure` prints OPENSTACK_BIN, GLANCE_BIN,
# OPENSTACK_PYTHON and the clients' versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REQUIREMENTS="$(cd "$(dirname "$0")" && pwd)/openstack-clients.txt"

find_python() {
  local p
  for p in "${GLIMPSE_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null && "$p" -c 'import venv' 2>/dev/null && {
      command -v "$p"
      return 0
    }
  done
  return 1
}

installed_version() { # venv distribution
  "$1/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2" ||
    fail "$2 is not installed in $1"
}

ensure_clients() {
  [ -f "$REQUIREMENTS" ] || fail "missing $REQUIREMENTS"
  local python pins venv
  python="$(find_python)" || fail "no Python 3 with the venv module found (set GLIMPSE_PYTHON)"
  pins="$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
  venv="$SERVICES_DIR/openstack-clients-$pins"
  if [ ! -f "$venv/.complete" ]; then
    note "installing the OpenStack clients into $venv with $python"
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2 || fail "$python -m venv $venv failed"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
      --cache-dir "$SERVICES_DIR/pip-cache" -r "$REQUIREMENTS" >&2 ||
      fail "pip could not install the clients of $REQUIREMENTS"
    "$venv/bin/openstack" --version >&2 || fail "the installed openstack client does not run"
    "$venv/bin/glance" --version >&2 || fail "the installed glance client does not run"
    touch "$venv/.complete"
  fi
  local openstack="$venv/bin/openstack" glance="$venv/bin/glance" osv gv
  [ -x "$openstack" ] || fail "$openstack is missing"
  [ -x "$glance" ] || fail "$glance is missing"
  # From the installed metadata: `openstack --version` loads every plugin and takes seconds.
  osv="$(installed_version "$venv" python-openstackclient)"
  gv="$(installed_version "$venv" python-glanceclient)"
  echo "OPENSTACK_BIN=$openstack"
  echo "GLANCE_BIN=$glance"
  echo "OPENSTACK_PYTHON=$venv/bin/python"
  echo "OPENSTACK_VERSION=$osv"
  echo "GLANCE_VERSION=$gv"
}

ensure_main openstack-clients ensure_clients "$@"
