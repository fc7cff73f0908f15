#!/usr/bin/env bash
# An S3-compatible server for the image-data tests: s3s-fs (crates.io), a real S3 protocol
# implementation over a directory, with signature-v4 authentication and multipart uploads.
# `s3.sh ensure` builds it once into the cache, starts one shared instance on a fixed loopback
# port if that port does not answer, and prints S3_BIN, S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY,
# S3_SECRET_KEY, S3_DATA_DIR and S3_LOG. Tests that stop the server start private instances of
# S3_BIN on ports of their own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# 0.14 is the newest release that builds with this project's toolchain (Rust 1.95).
S3S_FS_VERSION=0.14.1
S3_HOST=127.0.0.1
S3_PORT="${GLIMPSE_S3_PORT:-9390}"
S3_REGION=us-east-1
S3_ACCESS_KEY=glimpse-test
S3_SECRET_KEY=glimpse-test-secret

install_s3s_fs() {
  local root="$SERVICES_DIR/s3s-fs-$S3S_FS_VERSION"
  S3_BIN="$root/bin/s3s-fs"
  [ -x "$S3_BIN" ] && return 0
  command -v cargo >/dev/null || fail "cargo is needed to install s3s-fs"
  note "installing s3s-fs $S3S_FS_VERSION from crates.io into $root (a few minutes, once)"
  # A target directory of our own, kept until the install succeeds, so an interrupted build
  # resumes where it stopped.
  CARGO_TARGET_DIR="$SERVICES_DIR/s3s-fs-build" \
    cargo install --quiet --locked --root "$root" --version "$S3S_FS_VERSION" \
    --features binary s3s-fs >&2 ||
    fail "cargo install s3s-fs $S3S_FS_VERSION failed (see the messages above)"
  rm -rf "$SERVICES_DIR/s3s-fs-build"
  [ -x "$S3_BIN" ] || fail "cargo install s3s-fs finished but $S3_BIN is missing"
}

# Something answers on the port: is it an S3 server? (An unsigned request gets an S3 XML error.)
speaks_s3() {
  local reply
  reply="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" &&
    printf "GET / HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3 && cat <&3' "$S3_HOST" "$S3_PORT" 2>/dev/null |
    head -c 4096)" || true
  case "$reply" in *"<Error>"*"<Code>"* | *"ListAllMyBucketsResult"*) return 0 ;; esac
  return 1
}

ensure_s3() {
  install_s3s_fs
  local dir="$SERVICES_DIR/s3"
  S3_DATA_DIR="$dir/data"
  S3_LOG="$dir/server.log"
  mkdir -p "$S3_DATA_DIR"
  if ! port_answers "$S3_HOST" "$S3_PORT"; then
    note "starting s3s-fs on $S3_HOST:$S3_PORT (data in $S3_DATA_DIR)"
    # Detached from the caller: its own session, no inherited pipes and not the lock's fd, so
    # a test process that runs this script does not wait for the server to exit.
    setsid "$S3_BIN" --host "$S3_HOST" --port "$S3_PORT" \
      --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$S3_DATA_DIR" \
      </dev/null >>"$S3_LOG" 2>&1 9>&- &
    echo $! >"$dir/server.pid"
    wait_for_port "$S3_HOST" "$S3_PORT" 30 ||
      fail "s3s-fs did not answer on $S3_HOST:$S3_PORT within 30 s; last lines of $S3_LOG: $(tail -n 5 "$S3_LOG" 2>/dev/null)"
  fi
  speaks_s3 || fail "$S3_HOST:$S3_PORT answers but not as an S3 server (set GLIMPSE_S3_PORT to a free port)"
  echo "S3_BIN=$S3_BIN"
  echo "S3_ENDPOINT=http://$S3_HOST:$S3_PORT"
  echo "S3_REGION=$S3_REGION"
  echo "S3_ACCESS_KEY=$S3_ACCESS_KEY"
  echo "S3_SECRET_KEY=$S3_SECRET_KEY"
  echo "S3_DATA_DIR=$S3_DATA_DIR"
  echo "S3_LOG=$S3_LOG"
}

ensure_main s3 ensure_s3 "$@"
