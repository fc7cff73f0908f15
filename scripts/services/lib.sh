# Shared by the scripts in this folder: the cache directory, one lock per part, port checks.
# Each part's script sources this and calls `ensure_main <part> <ensure-function>`.

SERVICES_DIR="${GLIMPSE_SERVICES_DIR:-$HOME/.cache/glimpse-services}"

fail() {
  printf '%s: %s\n' "$PART" "$*" >&2
  exit 1
}

# Logs go to stderr: stdout carries only the KEY=VALUE lines.
note() { printf '%s: %s\n' "$PART" "$*" >&2; }

port_answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for_port() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_answers "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

# Runs `$2` under an exclusive lock of this part, so concurrent test processes install and
# start a part once; the others wait and then find it ready.
ensure_main() { # part ensure-fn [args...]
  PART="$1"
  local fn="$2"
  shift 2
  case "${1:-}" in
    ensure) ;;
    *)
      echo "usage: $0 ensure" >&2
      exit 2
      ;;
  esac
  command -v flock >/dev/null || fail "flock (util-linux) is needed"
  mkdir -p "$SERVICES_DIR" || fail "cannot create $SERVICES_DIR"
  exec 9>"$SERVICES_DIR/$PART.lock"
  flock -w 1800 9 || fail "timed out waiting for the lock $SERVICES_DIR/$PART.lock"
  "$fn"
}
