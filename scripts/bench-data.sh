#!/usr/bin/env bash
# Image data throughput, side by side on this machine: glimpse (release build, file store, or
# S3 with STORE=s3) uploading and downloading SIZE bytes over loopback with glimpse-bench,
# against dd writing the same bytes with conv=fsync to the same disk (the upload's ceiling) and
# nginx serving the same file over loopback (the download's ceiling). The server's RSS is
# sampled during each transfer.
#
#   scripts/bench-data.sh                 # 1 GiB, one connection
#   SIZE=$((2*1024*1024*1024)) CONNECTIONS=2 scripts/bench-data.sh
#   STORE=s3 scripts/bench-data.sh        # the test S3 server (scripts/services/s3.sh)
#
# Environment: WORK (scratch folder on the disk to measure, default /tmp/glimpse-bench-data),
# SIZE (bytes, default 1 GiB), CONNECTIONS (default 1), DURATION (seconds per scenario,
# default 10), PORT/IMAGES_PORT/NGINX_PORT (defaults 9491/9492/9493).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WORK:-/tmp/glimpse-bench-data}
SIZE=${SIZE:-$((1024 * 1024 * 1024))}
CONNECTIONS=${CONNECTIONS:-1}
DURATION=${DURATION:-10}
PORT=${PORT:-9491}
IMAGES_PORT=${IMAGES_PORT:-9492}
NGINX_PORT=${NGINX_PORT:-9493}
STORE=${STORE:-file}

cargo build --release --locked --bins
bin=$PWD/target/release
rm -rf "$WORK" && mkdir -p "$WORK/images" "$WORK/www"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

mib_s() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }

echo "== dd: $SIZE bytes written with conv=fsync to $WORK"
head -c "$SIZE" /dev/urandom >"$WORK/www/data"
cat "$WORK/www/data" >/dev/null
start=$(date +%s.%N)
dd if="$WORK/www/data" of="$WORK/dd-copy" bs=8M conv=fsync status=none
end=$(date +%s.%N)
dd_rate=$(mib_s "$SIZE" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
rm -f "$WORK/dd-copy"
echo "dd: $dd_rate MiB/s"

echo "== nginx: the same file over loopback"
nginx_bin=$(bash scripts/services/nginx.sh ensure | sed -n 's/^NGINX_BIN=//p')
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp;
  fastcgi_temp_path $WORK/nginx-tmp;
  uwsgi_temp_path $WORK/nginx-tmp;
  scgi_temp_path $WORK/nginx-tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
EOF
mkdir -p "$WORK/nginx-tmp"
"$nginx_bin" -c "$WORK/nginx.conf" -p "$WORK" &
pids+=($!)
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/data" 2>/dev/null && break; sleep 0.1; done
nginx_bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$NGINX_PORT/data")
nginx_rate=$(mib_s "$nginx_bps" 1)
echo "nginx: $nginx_rate MiB/s"

echo "== glimpse ($STORE store)"
store_args=(--store "file:$WORK/images")
if [[ $STORE == s3 ]]; then
  eval "$(bash scripts/services/s3.sh ensure | grep -E '^S3_[A-Z_]+=' | sed 's/^/export /')"
  bucket="glimpse-bench-$(date +%s)"
  # s3s-fs keeps buckets as directories of its data folder.
  mkdir -p "$S3_DATA_DIR/$bucket"
  store_args=(--store "s3://$bucket" --s3-endpoint "$S3_ENDPOINT" --s3-region "$S3_REGION"
    --s3-access-key "$S3_ACCESS_KEY" --s3-secret-key "$S3_SECRET_KEY")
fi
"$bin/glimpse" serve --database "sqlite://$WORK/bench.db" --bind "127.0.0.1:$PORT" \
  --images-bind "127.0.0.1:$IMAGES_PORT" "${store_args[@]}" --log-level warn &
server=$!
pids+=($server)
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break; sleep 0.1; done
"$bin/glimpse-bench" --images-url "http://127.0.0.1:$IMAGES_PORT" --scenarios upload,download \
  --data-size "$SIZE" -c "$CONNECTIONS" --duration "$DURATION" --server-pid "$server" \
  --json-out "$WORK/data.json"
python3 - "$WORK/data.json" "$dd_rate" "$nginx_rate" <<'EOF'
import json, sys
reports = {r["name"]: r for r in json.load(open(sys.argv[1]))}
dd, nginx = float(sys.argv[2]), float(sys.argv[3])
for name, base, what in (("upload", dd, "dd conv=fsync"), ("download", nginx, "nginx")):
    r = reports[name]
    grow = (r["max_rss_kib_during"] or 0) - (r["rss_before_kib"] or 0)
    print(f"{name}: {r['mib_per_s']:.1f} MiB/s = {100 * r['mib_per_s'] / base:.0f}% of {what} "
          f"({base:.1f} MiB/s); server RSS +{grow / 1024:.1f} MiB during the transfers")
EOF
