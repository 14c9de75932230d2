#!/usr/bin/env bash
# A random-name flood against the identity zone server and against Knot with
# mod-onlinesign on the same zone, in one run, while a second client keeps
# asking for real identities. Prints the figures recorded in bench/RESULTS.md
# ("## Random-name flood").
#
# Usage: zone/bench/flood.sh [N]    (N identities, default 10000)
# Needs: dnsperf, knotd, kdig, dig (Debian: dnsperf knot knot-dnsutils bind9-dnsutils).
# Ports: picked at random above 20000 on 127.0.0.1.
#
# Each scenario runs two dnsperf at once for DUR seconds:
#   flood: from 127.0.0.1, DO queries for names that do not exist, every one
#          new (each costs the server a signature), at most FLOODQPS a second;
#   legit: from 127.0.0.2, DO queries for TLSA records of real identities, at
#          most LEGITQPS a second.
# and reports, per server: flood answers/s (and their response codes),
# the legit client's answered rate and latency, and the server's CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
DUR=${DUR:-10}
FLOODQPS=${FLOODQPS:-100000}
LEGITQPS=${LEGITQPS:-2000}
. zone/bench/common.sh
workdir dance-flood-bench
# cpu PID: user+system clock ticks so far.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

echo "== machine: $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$W/dance" ./cmd/dance
"$W/dance" zone init --zone devices.test --dir "$W/zone" >/dev/null
identities "$N" "$W/ids.csv"
# Query sets: every flood name different (more than a run sends, so that
# dnsperf never wraps around to names already asked); real names at random.
awk -v q="$((FLOODQPS * DUR * 2 < 3000000 ? FLOODQPS * DUR * 2 : 3000000))" 'BEGIN { srand(7); for (i = 0; i < q; i++) printf "r%d-%x._device.devices.test TLSA\n", i, int(rand() * 4294967296) }' >"$W/flood.txt"
awk -v n="$N" 'BEGIN { srand(1); for (i = 0; i < 200000; i++) printf "d%d._device.devices.test TLSA\n", int(rand() * n) }' >"$W/legit.txt"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "d%d._device.devices.test TLSA\n", i }' >"$W/warm.txt"

# dance: start, import, wait for the presigning (transfers allowed so that
# the whole zone is signed ahead: real identities are presigned).
start_dance() { # extra flags...
  P=$(port); A=$(port)
  "$W/dance" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 "$@" >"$W/serve.log" 2>&1 &
  SPID=$!; pids+=($SPID)
  waitdns $P
}
stop_dance() { kill $SPID; wait $SPID 2>/dev/null || true; }
metric() { curl -s -H "Authorization: Bearer $(cat "$W/zone/admin.token")" "http://127.0.0.1:$A/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {printf "%d", s}'; }

start_dance
"$W/dance" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv"
while ! grep -q "zone presigned" "$W/serve.log"; do sleep 0.5; done
sleep 1
dig @127.0.0.1 -p $P devices.test AXFR +nocmd +nocomments +nostats | grep -v '^;' |
  awk '$4 != "RRSIG" && $4 != "NSEC3" && $4 != "NSEC3PARAM" && $4 != "DNSKEY" && $4 != "CDS" && $4 != "CDNSKEY"' | head -n -1 >"$W/devices.test.zone"
stop_dance
echo "zone: $N identities, $(wc -l <"$W/devices.test.zone") records unsigned"

# scenario NAME SERVER-PID PORT: the two dnsperf at once, then the figures.
scenario() {
  local name=$1 spid=$2 port=$3
  local c0 c1 t0 t1
  c0=$(cpu "$spid"); t0=$(date +%s.%N)
  dnsperf -s 127.0.0.1 -p "$port" -d "$W/flood.txt" -D -l "$DUR" -c 8 -T 1 -q 2000 -t 1 -Q "$FLOODQPS" -n 1 >"$W/flood.out" 2>&1 &
  local fp=$!
  dnsperf -a 127.0.0.2 -s 127.0.0.1 -p "$port" -d "$W/legit.txt" -D -l "$DUR" -c 2 -T 1 -q 100 -t 1 -Q "$LEGITQPS" >"$W/legit.out" 2>&1 &
  local lp=$!
  sleep $((DUR / 2))
  # One real identity checked by hand in the middle of the flood: its
  # record and signature, from the second address.
  local chk
  chk=$(kdig +dnssec +retry=0 +timeout=2 -b 127.0.0.2 @127.0.0.1 -p "$port" d5._device.devices.test TLSA +short 2>&1 | tr '\n' ' ')
  wait $fp $lp || true
  c1=$(cpu "$spid"); t1=$(date +%s.%N)
  local secs cpus
  secs=$(echo "$t1 - $t0" | bc -l)
  cpus=$(echo "($c1 - $c0) / $TCK / $secs" | bc -l)
  echo "-- $name"
  awk '/Queries sent|Queries completed|Queries lost|Response codes|Queries per second/ {$1=$1; print "   flood: " $0}' "$W/flood.out"
  awk '/Queries completed|Queries lost|Response codes|Queries per second|Average Latency|Latency StdDev/ {$1=$1; print "   legit: " $0}' "$W/legit.out"
  local answered
  answered=$(awk '/Queries completed/ {print $3}' "$W/flood.out" "$W/legit.out" | paste -sd+ | bc)
  printf "   server CPU: %.2f cores over %.1f s, %.0f µs per answer (flood and legit); load average now %s\n" "$cpus" "$secs" \
    "$(echo "($c1 - $c0) / $TCK * 1000000 / $answered" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
  case "$chk" in
  *"3 1 1 "*TLSA\ 13\ *) echo "   mid-flood kdig of d5 from 127.0.0.2: TLSA and RRSIG answered" ;;
  *) echo "   mid-flood kdig of d5 from 127.0.0.2: FAILED: $chk" ;;
  esac
}

dance_scenario() { # name, flags...
  local name=$1
  shift
  start_dance "$@"
  # Signatures of the real identities are cached again after the restart
  # (signatures.cache); ask each once so the comparison starts warm.
  dnsperf -s 127.0.0.1 -p $P -d "$W/warm.txt" -D -n 1 -c 2 -q 100 >/dev/null 2>&1 || true
  local s0 d0 l0 r0 a0
  s0=$(metric dance_zone_rrl_slipped_total); d0=$(metric dance_zone_rrl_dropped_total)
  r0=$(metric dance_zone_signing_refused_total); a0=$(metric dance_zone_signing_admitted_total)
  scenario "$name" $SPID $P
  echo "   dance metrics: rrl slipped $(($(metric dance_zone_rrl_slipped_total) - s0)), rrl dropped $(($(metric dance_zone_rrl_dropped_total) - d0)), signing admitted $(($(metric dance_zone_signing_admitted_total) - a0)), signing refused $(($(metric dance_zone_signing_refused_total) - r0))"
  stop_dance
}

knot_scenario() { # name, modules
  local name=$1 modules=$2
  local K
  K=$(port)
  rm -rf "$W/knot"; mkdir -p "$W/knot/run" "$W/knot/db"
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
mod-rrl:
  - id: default
    rate-limit: 20
    slip: 2
zone:
  - domain: devices.test
    file: "$W/devices.test.zone"
    zonefile-load: whole
    journal-content: none
    module: [$modules]
EOF
  knotd -c "$W/knot.conf" >"$W/knot.log" 2>&1 &
  local kp=$!
  pids+=($kp)
  waitdns $K || { cat "$W/knot.log" >&2; exit 1; }
  local keys
  keys=$(kdig +dnssec @127.0.0.1 -p $K devices.test DNSKEY +short)
  case "$keys" in *"257 3 13 "*) ;; *) echo "knot serves no ECDSA P-256 key: $keys" >&2; exit 1 ;; esac
  dnsperf -s 127.0.0.1 -p $K -d "$W/warm.txt" -D -n 1 -c 2 -q 100 >/dev/null 2>&1 || true
  scenario "$name" $kp $K
  kill $kp
  wait $kp 2>/dev/null || true
}

echo "== flood: random names with DO from 127.0.0.1 (at most $FLOODQPS/s), real TLSA names with DO from 127.0.0.2 (at most $LEGITQPS/s), $DUR s each"
knot_scenario "knot 3.2 mod-onlinesign (no rate limiting)" "mod-onlinesign"
dance_scenario "dance, limits off (--rrl-rate off --signing-rate off)" --rrl-rate off --signing-rate off
dance_scenario "dance, defaults (RRL 20/s per /24 and kind, slip 2; ceiling 2000 signatures/s)"
dance_scenario "dance, RRL off, ceiling 2000/s (a flood from many prefixes)" --rrl-rate off
knot_scenario "knot 3.2 mod-rrl (rate-limit 20, slip 2) + mod-onlinesign" "mod-rrl/default, mod-onlinesign"
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
