#!/usr/bin/env bash
# Benchmarks of the identity zone server against Knot and NSD on the same
# machine and the same signed zone. Prints the figures recorded in
# bench/RESULTS.md ("## Zone server").
#
# Usage: zone/bench/run.sh [N]    (N identities, default 1000000)
# Needs: dnsperf, knotd, nsd, kdig, dig (Debian: dnsperf knot nsd knot-dnsutils bind9-dnsutils).
# Ports: picked at random above 20000 on 127.0.0.1.
# PROFILE=DIR keeps the server's log in DIR and records a CPU profile of
# the server (perf, user space, call graphs) during each of its measured
# query phases: DIR/perf-before.txt and DIR/perf-after.txt (perf report
# --no-children, the hottest functions first), the recordings beside them
# (perf report -i DIR/perf-before.data -g caller -S mallocgc: who
# allocates). Needs perf (Debian: linux-perf) and
# kernel.perf_event_paranoid at most 2.
# Latency percentiles: during each measured query phase (dance before and
# after the transfers, Knot, NSD) zone/bench/latprobe (built here) sends
# LATRATE (default 2,000) queries a second of the same query set from its
# own socket, about 2% of dnsperf's load, on a fixed schedule, and prints a
# line after the phase's dnsperf figures:
#   lat_PHASE sent N answered N lost N mismatched N p50_ms X p99_ms X p999_ms X max_ms X ...
# (nearest rank over the answered queries; lost ones, no answer within
# 2 s, are counted apart; zone/bench/latprobe --help). With DUR=15 that
# is 28,000 answers, the 99.9th percentile the 29th slowest. PCT=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
DUR=${DUR:-15}
WARM=${WARM:-40} # seconds of warm-up, enough to ask every name of the query set once
QN=${QN:-200000} # random names in the query set (more than the response cache holds: QN=1000000)
PROFILE=${PROFILE:-}
W=$(mktemp -d /tmp/dance-zone-bench.XXXXXX)
if [ -n "$PROFILE" ]; then mkdir -p "$PROFILE"; PROFILE=$(cd "$PROFILE" && pwd); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$PROFILE" ] && [ -f "$W/serve.log" ]; then cp "$W/serve.log" "$PROFILE/serve.log"; fi
  rm -rf "$W"
}
trap cleanup EXIT
. zone/bench/common.sh
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# mem PID WHEN: where the resident bytes are (resident, common.sh) and,
# with GODEBUG=gctrace=1, the live heap and goal of the server's last
# collection.
mem() {
  resident "$1" "$2"
  if [ "$1" = "$SPID" ] && grep -q "^gc [0-9]" "$W/serve.log"; then
    grep '^gc [0-9]' "$W/serve.log" | tail -1 | sed 's/.*, \([0-9]*\)->\([0-9]*\)->\([0-9]*\) MB, \([0-9]*\) MB goal.*/  last_gc heap_before_mb \1 live_mb \3 goal_mb \4/'
  fi
}

# Without the server's GODEBUG: the compiler would print (and the build cache keep) its own gctrace.
env -u GODEBUG go build -o "$W/dance" ./cmd/dance
env -u GODEBUG go build -o "$W/latprobe" ./zone/bench/latprobe
"$W/dance" zone init --zone devices.test --dir "$W/zone" >/dev/null
P=$(port); A=$(port)
"$W/dance" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 --log-level info >"$W/serve.log" 2>&1 &
pids+=($!); SPID=$!
waitdns $P
rss0=$(rss_kb $SPID)

echo "== generating $N identities"
identities "$N" "$W/ids.csv"
echo "== import (admin API, CSV, batches of 5000)"
t0=$(date +%s.%N)
"$W/dance" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv"
t1=$(date +%s.%N)
rss1=$(rss_kb $SPID)
echo "import_seconds $(echo "$t1 - $t0" | bc)"
echo "rss_kb_before $rss0 rss_kb_after_import $rss1 bytes_per_identity $(( (rss1 - rss0) * 1024 / N ))"
mem $SPID import

echo "== presigning the whole zone (the server does it after changes when transfers are allowed)"
waitpresigned "$W/dance" "127.0.0.1:$A" "$W/serve.log"
t2=$(date +%s.%N)
rss2=$(rss_kb $SPID)
echo "presigned_seconds_after_import $(echo "$t2 - $t1" | bc) rss_kb_signed $rss2 bytes_per_signed_identity $(( (rss2 - rss0) * 1024 / N ))"
mem $SPID presigned

echo "== queries"
queries "$N" "$QN" "$W/q.txt"
perf() { dnsperf -s 127.0.0.1 -p "$1" -d "$W/q.txt" -D -l "${2:-$DUR}" -c 8 -T 2 -q 200 2>&1 | awk '/Queries per second|Queries lost|Average Latency/'; }
# lat PHASE PORT CMD...: runs CMD, a measured dnsperf pass against PORT,
# with the latency probe beside it, and prints the probe's lat_PHASE line
# after CMD's output. The probe sends from half a second into the pass to
# half a second before its end, so that every query it times meets the
# full load. PCT=0 runs CMD alone.
lat() {
  local phase=$1 port=$2
  shift 2
  if [ "${PCT:-1}" = 0 ]; then "$@"; return; fi
  (sleep 0.5; exec "$W/latprobe" -server "127.0.0.1:$port" -queries "$W/q.txt" \
    -rate "${LATRATE:-2000}" -duration "$((DUR > 1 ? DUR * 1000 - 1000 : 500))ms" -label "lat_$phase") >"$W/lat.txt" &
  local probe=$!
  pids+=("$probe")
  "$@"
  wait "$probe" || echo "lat_$phase failed"
  cat "$W/lat.txt"
}
perf $P "$WARM" >/dev/null # warm the response cache
# profiled WHEN: the dance server's measured phase, under perf record
# with PROFILE set.
profiled() {
  if [ -z "$PROFILE" ]; then perf $P; return; fi
  command perf record -q -g -e cpu-clock:u -p "$SPID" -o "$W/perf-$1.data" -- sleep "$DUR" 2>/dev/null &
  local rec=$!
  perf $P
  wait $rec || true
  cp "$W/perf-$1.data" "$PROFILE/perf-$1.data"
  command perf report -i "$W/perf-$1.data" --no-children --stdio -g none --percent-limit 0.5 2>/dev/null >"$PROFILE/perf-$1.txt" || true
  command perf report -i "$W/perf-$1.data" --children --stdio -g none --percent-limit 2 2>/dev/null >"$PROFILE/perf-$1-children.txt" || true
}
# gcmark: the number of collections the server's gctrace has logged so
# far; gcphase PHASE FROM: the collections since mark FROM and the longest
# stop-the-world pause among them (the queries' own phase; the longest of
# the whole run, import and transfers included, is at the end).
gcmark() { grep -c '^gc [0-9]' "$W/serve.log" || true; }
gcphase() {
  case "${GODEBUG:-}" in *gctrace=1*) ;; *) return 0 ;; esac
  grep '^gc [0-9]' "$W/serve.log" | tail -n +$(($2 + 1)) |
    awk -v p="$1" '{ split($5, c, "+"); for (i = 1; i <= 3; i += 2) if (c[i] + 0 > m) m = c[i] + 0; n++ }
      END { printf "gc_%s cycles %d longest_stw_pause_ms %.3f\n", p, n, m }'
}
g0=$(gcmark)
echo "-- dance zone serve"; lat before $P profiled before
gcphase before "$g0"

echo "== transfer (AXFR of the presigned zone)"
t0=$(date +%s.%N)
dig @127.0.0.1 -p $P devices.test AXFR +time=600 +nocmd +nocomments +nostats | grep -v '^;' >"$W/axfr.raw"
t1=$(date +%s.%N)
echo "axfr_seconds $(echo "$t1 - $t0" | bc) records $(wc -l <"$W/axfr.raw") rss_kb_after_axfr $(rss_kb $SPID)"
# A second transfer at the same serial is answered from the journal's
# snapshot of the first (the same octets, no copy of the zone).
t0=$(date +%s.%N)
dig @127.0.0.1 -p $P devices.test AXFR +time=600 +nocmd +nocomments +nostats >/dev/null
t1=$(date +%s.%N)
echo "second_axfr_seconds $(echo "$t1 - $t0" | bc) rss_kb_after_second_axfr $(rss_kb $SPID)"
mem $SPID transfers
# Each transfer ends, on the server, with a collection that returns its
# garbage to the system (a second or so of a core at 1M identities), logged
# when done. The phase after the transfers measures the server once that
# work is over, not while its last collection runs.
t0=$(date +%s.%N)
for _ in $(seq 600); do
  [ "$(grep -c 'memory returned to the system after a large transfer' "$W/serve.log" || true)" -ge 2 ] && break
  sleep 0.2
done
echo "transfer_release_wait_seconds $(echo "$(date +%s.%N) - $t0" | bc) released $(grep -c 'memory returned to the system after a large transfer' "$W/serve.log" || true)"
g0=$(gcmark)
echo "-- dance zone serve, after the transfers (journal holds the transferred zone)"; lat after $P profiled after
gcphase after "$g0"
mem $SPID end
# The closing SOA repeats the first.
head -n -1 "$W/axfr.raw" >"$W/devices.test.zone"

echo "== knot (same signed zone, no signing)"
K=$(port); mkdir -p "$W/knot/run" "$W/knot/db"
cat >"$W/knot.conf" <<EOF
server:
    rundir: "$W/knot/run"
    listen: 127.0.0.1@$K
    background-workers: 1
log:
  - target: stderr
    any: error
database:
    storage: "$W/knot/db"
zone:
  - domain: devices.test
    file: "$W/devices.test.zone"
    zonefile-load: whole
    journal-content: none
EOF
knotd -c "$W/knot.conf" >"$W/knot.log" 2>&1 &
pids+=($!); KPID=$!
waitdns $K
perf $K "$WARM" >/dev/null
echo "-- knot"; lat knot $K perf $K
echo "knot_rss_kb $(rss_kb $KPID) knot_bytes_per_identity $(( $(rss_kb $KPID) * 1024 / N ))"
mem $KPID knot
kill $KPID; wait $KPID 2>/dev/null || true

echo "== nsd"
D=$(port); mkdir -p "$W/nsd"
cat >"$W/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$D
    username: ""
    chroot: ""
    zonesdir: "$W"
    database: ""
    zonelistfile: "$W/nsd/zone.list"
    pidfile: "$W/nsd/nsd.pid"
    xfrdfile: "$W/nsd/xfrd.state"
    server-count: 2
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: devices.test
    zonefile: devices.test.zone
EOF
nsd -d -c "$W/nsd.conf" >"$W/nsd.log" 2>&1 &
pids+=($!); NPID=$!
waitdns $D
perf $D "$WARM" >/dev/null
echo "-- nsd"; lat nsd $D perf $D

# With GODEBUG=gctrace=1 the server's log holds a line per collection:
# "gc N @T s P%: A+B+C ms clock, ...", A and C its two stop-the-world
# phases. The longest of those, over the whole run:
if grep -q '^gc [0-9]' "$W/serve.log"; then
  awk '/^gc [0-9]+ @/ { split($5, c, "+"); for (i = 1; i <= 3; i += 2) if (c[i] + 0 > m) m = c[i] + 0; n++ }
    END { printf "gc_cycles %d longest_stw_pause_ms %.3f\n", n, m }' "$W/serve.log"
fi
