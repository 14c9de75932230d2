#!/usr/bin/env bash
# Follows docs/production.md on this machine, from a clean start, and checks
# each promise the guide makes: an identity zone served by dance, a real
# Unbound validating it (its configuration generated from the guide's
# template), dance proxy in front of a small backend (nginx), devices
# connecting with curl, an organisation CA's wildcard, revocation under it,
# a key rotation by dance id rotate without a refused connection, reloads by
# SIGHUP, the health checks, a backup restored, and the Grafana dashboard's
# metric names against what the servers export. The zone server reads its
# flags from a configuration file (--config), as the guide allows.
#
# Everything listens on 127.0.0.1, on ports above 10000 picked here; every
# process started is stopped on exit. TTLs are 2 seconds so that the waits
# the guide prescribes take seconds. Run by scripts/test; needs go, unbound,
# nginx and curl (scripts/debian-packages).
#
#   docs/production-test.sh [-v]
set -euo pipefail
cd "$(dirname "$0")/.."

verbose=false
[ "${1:-}" = "-v" ] && verbose=true

work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

say() { echo "-- $*"; }
fail() { echo "production-test: FAIL: $*" >&2; exit 1; }

# wait_log FILE REGEX: waits (30 s at most) until FILE has a line matching
# REGEX and prints the first match.
wait_log() {
  local i
  for i in $(seq 1 300); do
    if grep -Eo -m 1 "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$1: no line matching '$2' within 30 s"
}

# stop PID: SIGTERM, then waits for it.
stop() {
  kill -TERM "$1"
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# port: a random port above 10000; callers retry when it is taken.
port() { echo $((20000 + RANDOM % 40000)); }

say "build dance"
mkdir -p "$work/bin"
go build -o "$work/bin/dance" ./cmd/dance
export PATH="$work/bin:$PATH"

ZONE=ids.example.com
TTL=2          # identity records (the guide's default is 300)
NEG_TTL=2      # negative answers (60)
CACHE_FLOOR=1  # the proxy's --min-cache-ttl, in seconds
DIR=$work/zone

# ---------------------------------------------------------------------------
say "the zone: dance zone init, dance zone serve"
install -d -m 0700 "$DIR"
dance zone init --zone "$ZONE" --dir "$DIR" --ttl "$TTL" --negative-ttl "$NEG_TTL" >"$work/init.out"
grep -q "IN	DS	" "$work/init.out" || fail "zone init printed no DS record"

# start_zone: serves the zone on ZPORT (the same one across restarts, since
# Unbound's stub-zone names it), admin API on APORT, metrics and health on a
# port of its choice (ZMETRICS, ZHEALTH), all from a configuration file.
ZPORT=""
APORT=""
start_zone() {
  local try restart=$ZPORT
  for try in 1 2 3 4 5; do
    [ -n "$restart" ] || { ZPORT=$(port); APORT=$(port); }
    cat >"$work/zone.conf" <<EOF
# dance zone serve --config: one flag a line, its name without dashes
dir = $DIR
listen = 127.0.0.1:$ZPORT
admin-listen = 127.0.0.1:$APORT
metrics-listen = 127.0.0.1:0
EOF
    dance zone serve --config "$work/zone.conf" >"$work/zone.log" 2>&1 &
    zone_pid=$!
    for _ in $(seq 1 300); do
      if grep -q "^admin API on" "$work/zone.log" && grep -q "^metrics on" "$work/zone.log"; then
        pids+=("$zone_pid")
        ZMETRICS=$(grep -Eo -m 1 'metrics on http://[0-9.:]+/metrics' "$work/zone.log" | sed 's/metrics on //')
        ZHEALTH=$(grep -Eo -m 1 'health on http://[0-9.:]+/healthz' "$work/zone.log" | sed 's/health on //')
        return 0
      fi
      kill -0 "$zone_pid" 2>/dev/null || break
      sleep 0.1
    done
    wait "$zone_pid" 2>/dev/null || true
    grep -q "address already in use" "$work/zone.log" || fail "zone serve did not start"
    # A restart keeps its port, which Unbound's stub-zone names.
    [ -z "$restart" ] || fail "zone serve: port $ZPORT or $APORT taken during a restart"
  done
  fail "zone serve: no free port"
}
start_zone
API="http://127.0.0.1:$APORT"
admin() { dance "$@" --dir "$DIR" --api "$API"; }
[ "$(curl -fsS "$ZHEALTH")" = ok ] || fail "zone serve: $ZHEALTH is not ok"
# SIGHUP (systemctl reload): the server reads its keys and certificates
# again and says what it took.
kill -HUP "$zone_pid"
wait_log "$work/zone.log" 'msg=reloaded what="update keys and policy"' >/dev/null

# ---------------------------------------------------------------------------
say "Unbound, configured from the guide's template"
# The template is the heredoc of docs/production.md that writes
# unbound.conf; its variables are set here as the guide sets them.
template=$(awk '/^cat > \/etc\/unbound\/unbound.conf <<EOF$/{f=1; next} /^EOF$/{f=0} f' docs/production.md)
[ -n "$template" ] || fail "docs/production.md has no unbound.conf template"
ANCHORS=$work/unbound/$ZONE.anchors
UNBOUND_DIR=$work/unbound
UNBOUND_USER=""   # the guide: unbound (here: whoever runs the test)
ZONE_SERVER=127.0.0.1@$ZPORT
install -d "$UNBOUND_DIR"
install -m 0644 "$DIR/anchors" "$ANCHORS"
for try in 1 2 3 4 5; do
  PORT=$(port)
  eval "cat >\"\$UNBOUND_DIR/unbound.conf\" <<EOF
$template
EOF"
  unbound-checkconf "$UNBOUND_DIR/unbound.conf" >/dev/null || fail "unbound-checkconf refuses the guide's configuration"
  unbound -d -c "$UNBOUND_DIR/unbound.conf" >"$work/unbound.log" 2>&1 &
  unbound_pid=$!
  up=false
  for _ in $(seq 1 300); do
    kill -0 "$unbound_pid" 2>/dev/null || break
    if dance lookup --resolver "127.0.0.1:$PORT" --trust-ad --type SOA "$ZONE" >/dev/null 2>&1; then up=true; break; fi
    sleep 0.1
  done
  if $up; then pids+=("$unbound_pid"); break; fi
  kill "$unbound_pid" 2>/dev/null || true; wait "$unbound_pid" 2>/dev/null || true
  grep -q "address already in use\|can't bind" "$work/unbound.log" || { cat "$work/unbound.log"; fail "Unbound does not validate the zone (AD) from its anchors"; }
done
$up || fail "Unbound: no free port"
UPORT=$PORT
# Unbound's AD bit is what --trust-ad believes: a lookup through it is
# secure, and so is one validated here from the zone's anchors.
dance lookup --resolver "127.0.0.1:$UPORT" --trust-ad --type SOA "$ZONE" | grep -q secure || fail "lookup --trust-ad not secure"
dance lookup --resolver "127.0.0.1:$UPORT" --anchors "$ANCHORS" --type DNSKEY "$ZONE" | grep -q secure || fail "lookup --anchors not secure"

# ---------------------------------------------------------------------------
say "the backend (nginx) and dance proxy"
for try in 1 2 3 4 5; do
  BPORT=$(port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $work/nginx/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$BPORT;
    location / {
      default_type text/plain;
      return 200 "hello \$http_dance_client_name (\$http_dance_client_kind)\n";
    }
  }
}
EOF
  nginx -e stderr -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx.log" 2>&1 &
  nginx_pid=$!
  up=false
  for _ in $(seq 1 100); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    curl -fsS "http://127.0.0.1:$BPORT/" >/dev/null 2>&1 && { up=true; break; }
    sleep 0.1
  done
  if $up; then pids+=("$nginx_pid"); break; fi
  kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true
done
$up || fail "nginx did not start"

dance id new --name "proxy.$ZONE" --out "$work/proxy" >/dev/null
echo "*._device.$ZONE" >"$work/proxy/allow"
dance proxy --listen 127.0.0.1:0 --backend "http://127.0.0.1:$BPORT" \
  --cert "$work/proxy/cert.pem" --key "$work/proxy/key.pem" --allow-file "$work/proxy/allow" \
  --resolver "127.0.0.1:$UPORT" --anchors "$ANCHORS" --min-cache-ttl "${CACHE_FLOOR}s" \
  --metrics 127.0.0.1:0 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
PROXY=$(wait_log "$work/proxy.log" 'listening on 127\.0\.0\.1:[0-9]+' | sed 's/listening on //')
METRICS=$(wait_log "$work/proxy.log" 'metrics on http://[0-9.:]+/metrics' | sed 's/metrics on //')
HEALTH=$(wait_log "$work/proxy.log" 'health on http://[0-9.:]+/healthz' | sed 's/health on //')
# The proxy checked at start that the allow-list's zone validates through
# Unbound with the anchors: healthy.
[ "$(curl -fsS "$HEALTH")" = ok ] || fail "proxy: $HEALTH is not ok"

# connect DEVICE_DIR: prints the backend's answer; fails when refused.
connect() {
  curl -sS --max-time 10 --cacert "$work/proxy/cert.pem" \
    --resolve "proxy.$ZONE:${PROXY##*:}:127.0.0.1" \
    --cert "$1/cert.pem" --key "$1/key.pem" "https://proxy.$ZONE:${PROXY##*:}/" 2>>"$work/curl.log"
}
accepted() {
  local out
  out=$(connect "$1") || fail "$2: refused, expected accepted"
  [ "$out" = "hello $3 (device)" ] || fail "$2: backend saw '$out', expected '$3'"
  $verbose && echo "   accepted: $out"
  return 0
}
refused() {
  if connect "$1" >/dev/null; then fail "$2: accepted, expected refused"; fi
  $verbose && echo "   refused: $2"
  return 0
}
# refused_within SECONDS DEVICE_DIR WHAT: polls until refused.
refused_within() {
  local end=$((SECONDS + $1))
  while connect "$2" >/dev/null; do
    [ $SECONDS -lt $end ] || fail "$3: still accepted after $1 s"
    sleep 0.2
  done
}
# publish NAME TLSA-LINE...: the record data of "dance id new" output lines.
rdata() { awk '{print $5, $6, $7, $8}'; }

# ---------------------------------------------------------------------------
say "a device: published, accepted; one never published: refused"
S1=sensor1._device.$ZONE
rec1=$(dance id new --name "$S1" --ttl "$TTL" --out "$work/sensor1" | rdata)
admin zone add "$S1" TLSA "$rec1" >/dev/null
accepted "$work/sensor1" "published device" "$S1"
dance id new --name "stranger._device.$ZONE" --out "$work/stranger" >/dev/null
refused "$work/stranger" "unpublished device"
# The same verdicts with --trust-ad: Unbound's validation, believed over loopback.
dance verify --chain "$work/sensor1/cert.pem" --resolver "127.0.0.1:$UPORT" --trust-ad >/dev/null || fail "verify --trust-ad: $S1 not authenticated"
if out=$(dance verify --chain "$work/stranger/cert.pem" --resolver "127.0.0.1:$UPORT" --trust-ad); then fail "verify --trust-ad authenticated an unpublished device"; fi
case "$out" in *no-record*) ;; *) fail "verify --trust-ad, unpublished device: $out";; esac

# ---------------------------------------------------------------------------
say "an organisation CA at *._device.$ZONE; a device it issued"
ca=$(dance ca new --name "$ZONE" --ttl "$TTL" --out "$work/ca")
case "$ca" in "*._device.$ZONE. "*) ;; *) fail "ca new printed $ca";; esac
admin zone add "*._device.$ZONE" TLSA "$(echo "$ca" | rdata)" >/dev/null
S2=sensor2._device.$ZONE
rec2=$(dance id new --name "$S2" --ca "$work/ca/cert.pem" --ca-key "$work/ca/key.pem" --ttl "$TTL" --out "$work/sensor2" | rdata)
admin zone add "$S2" TLSA "$rec2" >/dev/null
accepted "$work/sensor2" "CA-issued device with its own record" "$S2"
S3=sensor3._device.$ZONE
dance id new --name "$S3" --ca "$work/ca/cert.pem" --ca-key "$work/ca/key.pem" --out "$work/sensor3" >/dev/null
accepted "$work/sensor3" "CA-issued device known through the wildcard" "$S3"

# ---------------------------------------------------------------------------
say "backup: stop the server, copy the directory, start it again"
stop "$zone_pid"
tar -C "$DIR" -cf "$work/backup.tar" --exclude=signatures.cache --exclude=ixfr.journal .
start_zone
accepted "$work/sensor2" "CA-issued device after the restart" "$S2"

# ---------------------------------------------------------------------------
say "revocation under the wildcard: dance zone revoke, refused within the TTL"
t0=$SECONDS
admin zone revoke "$S2" >"$work/revoke.out"
grep -q 'wildcard' "$work/revoke.out" || fail "zone revoke did not name the wildcard it shadows: $(cat "$work/revoke.out")"
# The guide's bound: the record's TTL, plus the proxy's cache floor, plus a
# second of TTL rounding in each cache.
refused_within $((TTL + CACHE_FLOOR + 2 + 5)) "$work/sensor2" "revoked device"
say "   refused after $((SECONDS - t0)) s (TTL $TTL s)"
grep -q "reason=revoked" "$work/proxy.log" || fail "the proxy's log does not say revoked"
accepted "$work/sensor3" "another device of the CA" "$S3"

# ---------------------------------------------------------------------------
say "rotation of $S1's key by dance id rotate: no connection refused, the old key retired"
# The device presents whatever its directory holds at each connection, as a
# device that reloads its key when told; the proxy must accept every one.
install -d "$work/sensor1-old"
cp "$work/sensor1/cert.pem" "$work/sensor1/key.pem" "$work/sensor1-old/"
# snapshot: a copy of the directory's key and certificate that belong
# together (the rotation moves them one after the other).
snapshot() {
  local d=$work/snap
  rm -rf "$d" && mkdir -p "$d"
  cp "$work/sensor1/cert.pem" "$work/sensor1/key.pem" "$d/" 2>/dev/null || return 1
  [ "$(openssl x509 -in "$d/cert.pem" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$d/key.pem" -pubout 2>/dev/null)" ]
}
# The guide's --wait (TTL + cache floor + rounding), plus a few seconds to
# connect more often while both keys are published.
wait_s=$((TTL + CACHE_FLOOR + 1 + 4))
dance id rotate --out "$work/sensor1" --zone-dir "$DIR" --wait "${wait_s}s" >"$work/rotate.out" 2>&1 &
rotate_pid=$!
pids+=($rotate_pid)
n=0 switched=0
while kill -0 "$rotate_pid" 2>/dev/null; do
  if snapshot; then
    # A refusal counts only when the directory still holds the key the
    # connection presented: the rotation retires the old record right
    # after it moves the new key in, so a copy taken just before that is
    # a key the device no longer holds.
    if ! out=$(connect "$work/snap"); then
      cmp -s "$work/snap/cert.pem" "$work/sensor1/cert.pem" && fail "the directory's key during the rotation: refused, expected accepted"
      $verbose && echo "   refused a copy of the key the rotation had just replaced"
      sleep 0.2
      continue
    fi
    [ "$out" = "hello $S1 (device)" ] || fail "the directory's key during the rotation: backend saw '$out', expected '$S1'"
    n=$((n + 1))
    cmp -s "$work/snap/cert.pem" "$work/sensor1-old/cert.pem" || switched=$((switched + 1))
  fi
  sleep 0.2
done
wait "$rotate_pid" || { cat "$work/rotate.out"; fail "dance id rotate failed"; }
keep=(); for p in "${pids[@]}"; do [ "$p" = "$rotate_pid" ] || keep+=("$p"); done; pids=("${keep[@]}")
grep -q "old key retired" "$work/rotate.out" || fail "id rotate did not retire the old key: $(cat "$work/rotate.out")"
[ "$n" -ge 5 ] || fail "only $n connections during the rotation"
$verbose && echo "   $n connections during the rotation, all accepted ($switched with the new key)"
accepted "$work/sensor1" "the new key after the rotation" "$S1"
refused_within 10 "$work/sensor1-old" "retired key"
rec1new=$(admin zone list --under "$S1" | awk -F'\t' '{print $5}')
[ -n "$rec1new" ] || fail "no record at $S1 after the rotation"
# The proxy's SIGHUP: the allow-list file, anchors and certificate again,
# the zones checked again.
kill -HUP "$proxy_pid"
wait_log "$work/proxy.log" 'allow-list reloaded' >/dev/null
accepted "$work/sensor1" "the rotated device after the proxy's reload" "$S1"

# ---------------------------------------------------------------------------
say "restore the backup: revocations made since it come back undone, and are made again"
serial_before=$(curl -fsS -H "Authorization: Bearer $(cat "$DIR/admin.token")" "$API/v1/zone" | sed 's/.*"serial":\([0-9]*\).*/\1/')
stop "$zone_pid"
rm -rf "$DIR" && install -d -m 0700 "$DIR" && tar -C "$DIR" -xf "$work/backup.tar"
start_zone
serial_after=$(curl -fsS -H "Authorization: Bearer $(cat "$DIR/admin.token")" "$API/v1/zone" | sed 's/.*"serial":\([0-9]*\).*/\1/')
admin zone list --under "$S2" | grep -q "${rec2##* }" || fail "the restored zone lacks $S2's record from before its revocation"
admin zone revoke "$S2" >/dev/null
admin zone add --replace "$S1" TLSA "$rec1new" >/dev/null
refused_within $((TTL + CACHE_FLOOR + 2 + 5)) "$work/sensor2" "device revoked again after the restore"
refused_within 10 "$work/sensor1-old" "retired key after the restore"
accepted "$work/sensor1" "rotated device after the restore" "$S1"
serial_new=$(curl -fsS -H "Authorization: Bearer $(cat "$DIR/admin.token")" "$API/v1/zone" | sed 's/.*"serial":\([0-9]*\).*/\1/')
[ "$serial_new" -gt "$serial_before" ] || fail "serial $serial_new after the restore is not above $serial_before from before it (secondaries would keep their copy)"
$verbose && echo "   serial before restore $serial_before, restored $serial_after, after the changes $serial_new"

# ---------------------------------------------------------------------------
say "metrics: the alerts' series, and every name the Grafana dashboard uses"
curl -fsS "$METRICS" >"$work/metrics.proxy"
# The zone server's metrics from its metrics listener, without the token.
curl -fsS "$ZMETRICS" >"$work/metrics.zone"
cat "$work/metrics.proxy" "$work/metrics.zone" >"$work/metrics.all"
# sample FILE SERIES: the value of one series.
sample() { awk -v s="$2" '$1 == s {print $2; f=1} END {if (!f) print "absent"}' "$1"; }
v=$(sample "$work/metrics.proxy" 'dance_verify_verdicts_total{result="revoked"}')
[ "$v" != absent ] && [ "$v" != 0 ] || fail "dance_verify_verdicts_total{result=\"revoked\"} is $v"
v=$(sample "$work/metrics.proxy" 'dance_proxy_handshakes_total{result="failed"}')
[ "$v" != absent ] && [ "$v" != 0 ] || fail "dance_proxy_handshakes_total{result=\"failed\"} is $v"
v=$(sample "$work/metrics.zone" 'dance_zone_dns_requests_total{outcome="success"}')
[ "$v" != absent ] && [ "$v" != 0 ] || fail "dance_zone_dns_requests_total{outcome=\"success\"} is $v"

# missing_metrics FILE NAME...: prints the names FILE (an exposition) has no
# series of (a histogram's NAME_bucket, _sum and _count count as NAME).
missing_metrics() {
  local f=$1 n; shift
  for n in "$@"; do
    grep -Eq "^${n}(_bucket|_sum|_count)?(\{| )" "$f" || echo "$n"
  done
}
dash=deploy/grafana-dashboard.json
names=$(grep -o 'dance_[a-z0-9_]*' "$dash" | sort -u)
[ "$(echo "$names" | wc -l)" -ge 10 ] || fail "$dash names fewer than 10 metrics"
missing=$(missing_metrics "$work/metrics.all" $names)
[ -z "$missing" ] || fail "$dash uses metrics the servers do not export: $missing"
# The check above would catch a name that is not exported.
[ "$(missing_metrics "$work/metrics.all" dance_proxy_handshakes dance_zone_no_such_total)" = "dance_proxy_handshakes
dance_zone_no_such_total" ] || fail "missing_metrics lets unknown names through"
# expr_problems EXPR: what is wrong with one query of the dashboard: a label
# it groups or selects by that none of its metrics has (job and instance
# are Prometheus's, le a histogram's), or a label value it names literally
# that the code never writes.
expr_problems() {
  local expr=$1 ms labels l m found v
  ms=$(echo "$expr" | grep -o 'dance_[a-z0-9_]*' | sed -E 's/_bucket$//' | sort -u || true)
  labels=$( { echo "$expr" | grep -oE 'by \([a-z_, ]+\)' | sed -E 's/by \(//; s/\)//; s/,/ /g'
              echo "$expr" | grep -oE '[a-z_]+=~?"' | sed -E 's/=~?"$//'; } | tr ' ' '\n' | grep -vxE 'job|instance|le|' | sort -u || true)
  for l in $labels; do
    found=false
    for m in $ms; do
      grep -Eq "^${m}(_bucket)?\{([^}]*,)?${l}=" "$work/metrics.all" && found=true
    done
    $found || echo "no metric has a label $l"
  done
  for v in $(echo "$expr" | grep -oE '[a-z_]+=~?"[^"]*"' | grep -v '^job=' | sed -E 's/^[a-z_]+=~?"//; s/"$//' | tr '|' '\n'); do
    case "$v" in *[.*+?\[\]\(\)\$]*) continue;; esac
    grep -rqF --include='*.go' --exclude='*_test.go' "\"$v\"" . || echo "label value $v appears nowhere in the code"
  done
}
grep -o '"expr": ".*"' "$dash" | sed 's/^"expr": "//; s/"$//; s/\\"/"/g' >"$work/exprs"
[ "$(wc -l <"$work/exprs")" -ge 10 ] || fail "$dash: fewer than 10 queries"
while IFS= read -r expr; do
  p=$(expr_problems "$expr")
  [ -z "$p" ] || fail "$dash: $expr: $p"
done <"$work/exprs"
# The same for the guide's alerts: every query it writes in backquotes.
grep -o '`[^`]*dance_[^`]*`' docs/production.md | sed 's/^`//; s/`$//; s/\\|/|/g' | sort -u >"$work/guide-exprs"
[ "$(wc -l <"$work/guide-exprs")" -ge 10 ] || fail "docs/production.md: fewer than 10 metric expressions"
missing=$(missing_metrics "$work/metrics.all" $(grep -o 'dance_[a-z0-9_]*' "$work/guide-exprs" | sort -u))
[ -z "$missing" ] || fail "docs/production.md names metrics the servers do not export: $missing"
while IFS= read -r expr; do
  p=$(expr_problems "$expr")
  [ -z "$p" ] || fail "docs/production.md: $expr: $p"
done <"$work/guide-exprs"
# The checks above would catch a wrong label and a wrong label value.
[ -n "$(expr_problems 'sum by (outcome) (rate(dance_proxy_handshakes_total[5m]))')" ] || fail "expr_problems misses a label the metric lacks"
[ -n "$(expr_problems 'rate(dance_zone_dns_requests_total{outcome="servfial"}[5m])')" ] || fail "expr_problems misses a misspelt label value"
[ -z "$(expr_problems 'rate(dance_zone_dns_requests_total{outcome="servfail"}[5m])')" ] || fail "expr_problems refuses a good query"

say "all steps of docs/production.md passed"
