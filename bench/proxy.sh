#!/usr/bin/env bash
# Handshakes per second through `dance proxy` (http mode, DANE client
# authentication, warm verdict cache) versus nginx doing CA-based client
# certificate checks (ssl_verify_client on), both in front of the same
# backend (a second nginx answering 200 "ok"), both TLS 1.3 with ECDSA P-256
# server and client keys, on 127.0.0.1. Every request is a new connection
# with a full handshake (bench/proxyload: wrk and h2load cannot present a
# client certificate).
#
# Usage (from the repository, as root or a user who can run nginx):
#   bench/proxy.sh [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
conns=${2:-16}
rounds=${3:-2}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
waitport() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

go build -o "$work/dance" ./cmd/dance
go build -o "$work/proxyload" ./bench/proxyload
dance="$work/dance"
cd "$work"

# The identity zone, served by dance zone serve; the device's 3 1 1 record
# published through the admin API.
dns=$(freeport); admin=$(freeport)
"$dance" zone init --zone devices.test --dir zone >/dev/null
"$dance" zone serve --dir zone --listen 127.0.0.1:"$dns" --admin-listen 127.0.0.1:"$admin" >zone.log 2>&1 &
pids+=($!)
waitport "$admin"
# One CA for nginx; the device's certificate is issued by it, so both
# front ends see the same chain (leaf + CA).
"$dance" ca new --name devices.test --out ca >/dev/null
rec=$("$dance" id new --name dev1._device.devices.test --ca ca/cert.pem --ca-key ca/key.pem --out dev | awk '{print $5" "$6" "$7" "$8}')
"$dance" zone add --dir zone --api http://127.0.0.1:"$admin" dev1._device.devices.test TLSA "$rec" >/dev/null
# The front ends' certificate, for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 \
  -days 2 -keyout srv.key -out srv.pem 2>/dev/null

backend=$(freeport); ngx=$(freeport)
mkdir -p b f
cat >b/nginx.conf <<CONF
worker_processes 1; pid $work/b/pid; error_log $work/b/error.log warn; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/b; proxy_temp_path $work/b; fastcgi_temp_path $work/b; uwsgi_temp_path $work/b; scgi_temp_path $work/b;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$backend; location / { default_type text/plain; return 200 "ok\n"; } } }
CONF
cat >f/nginx.conf <<CONF
worker_processes auto; pid $work/f/pid; error_log $work/f/error.log warn; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/f; proxy_temp_path $work/f; fastcgi_temp_path $work/f; uwsgi_temp_path $work/f; scgi_temp_path $work/f;
  upstream app { server 127.0.0.1:$backend; keepalive 64; }
  server {
    listen 127.0.0.1:$ngx ssl;
    ssl_certificate $work/srv.pem; ssl_certificate_key $work/srv.key;
    ssl_protocols TLSv1.3;
    ssl_verify_client on; ssl_client_certificate $work/ca/cert.pem; ssl_verify_depth 2;
    location / {
      proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Client-DN \$ssl_client_s_dn;
    }
  }
}
CONF
nginx -p "$work/b" -e "$work/b/error.log" -c "$work/b/nginx.conf" & pids+=($!)
nginx -p "$work/f" -e "$work/f/error.log" -c "$work/f/nginx.conf" & pids+=($!)
waitport "$backend"; waitport "$ngx"

px=$(freeport)
"$dance" proxy --listen 127.0.0.1:"$px" --backend http://127.0.0.1:"$backend" --cert srv.pem --key srv.key \
  --allow '*._device.devices.test' --resolver 127.0.0.1:"$dns" --anchors zone/anchors --log-level warn >proxy.log 2>&1 &
pids+=($!)
waitport "$px"

# Both answer the device (and warm the proxy's verdict cache).
for port in "$ngx" "$px"; do
  curl -sS --fail --cacert srv.pem --cert dev/cert.pem --key dev/key.pem https://127.0.0.1:"$port"/ >/dev/null
done
# Neither answers a client without a certificate.
for port in "$ngx" "$px"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert srv.pem https://127.0.0.1:"$port"/ || true)
  [ "$code" != 200 ] || { echo "port $port served a client without a certificate" >&2; exit 1; }
done

# CPU time (user + system, clock ticks) of a process and its children: the
# rate per CPU-second of the front end is the figure that survives a shared
# machine.
ticks() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1"); do
    total=$((total + $(awk '{print $14 + $15}' /proc/"$p"/stat)))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)
ngxpid=$(cat f/pid)
pxpid=${pids[-1]}
measure() { # label kx port pid
  local before after out
  before=$(ticks "$4")
  out=$(./proxyload -json -warmup 0s -kx "$2" -label "$1" -url https://127.0.0.1:"$3"/ -cert dev/cert.pem -key dev/key.pem -cacert srv.pem -c "$conns" -d "${secs}s")
  after=$(ticks "$4")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1]); cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print("%-30s kx %-7s %6d in %.1fs, %d errors: %5.0f/s, p50 %5.1f ms, p99 %6.1f ms; front end CPU %5.1fs: %5.0f per CPU-second" % (
    r["target"], sys.argv[5], r["requests"], r["seconds"], r["errors"], r["handshakes_per_second"], r["P50ms"], r["P99ms"],
    cpu, r["requests"] / cpu if cpu else 0))
if r.get("first_error"): print("  first error:", r["first_error"])
' "$out" "$before" "$after" "$hz" "$2"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(go version | awk '{print $3}'), nginx $(nginx -v 2>&1 | sed 's/.*\///'), $secs s x $conns connections, load $(cut -d' ' -f1-3 /proc/loadavg)"
# The client offers Go's default key exchange (X25519MLKEM768 first, which
# the dance proxy picks and nginx 1.22 with OpenSSL 3.0 cannot), then X25519
# alone, so both servers do the same work.
for kx in default x25519; do
  for r in $(seq "$rounds"); do
    measure "nginx (CA, round $r)" "$kx" "$ngx" "$ngxpid"
    measure "dance proxy (DANE, round $r)" "$kx" "$px" "$pxpid"
  done
done
# A second, independent client: openssl s_time, one connection at a time,
# a new full handshake and one GET per connection.
for r in $(seq "$rounds"); do
  for t in "nginx:$ngx" "dance-proxy:$px"; do
    printf '%s (s_time, round %s): ' "${t%%:*}" "$r"
    openssl s_time -connect 127.0.0.1:"${t#*:}" -new -time "$secs" -cert dev/cert.pem -key dev/key.pem -CAfile srv.pem -www / 2>&1 |
      awk '/connections in .* real seconds/ {printf "%s connections in %s s, %.0f/s\n", $1, $4, $1/$4}'
  done
done
