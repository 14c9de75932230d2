#!/usr/bin/env bash
# Import plus presigning of N identities: the first part of run.sh alone
# (no query load, no other servers), for measuring bulk provisioning.
#
# Usage: zone/bench/import.sh [N]   (default 1000000)
#        DANCE=path/to/dance zone/bench/import.sh N   (a binary built elsewhere)
# Prints import_seconds, presign_seconds, their sum, and the CPU seconds
# the server used meanwhile (less sensitive to other load than the times).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
W=$(mktemp -d /tmp/dance-zone-import.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
port() { echo $((20000 + RANDOM % 20000)); }
waitdns() { for _ in $(seq 300); do dig +time=1 +tries=1 @127.0.0.1 -p "$1" devices.test SOA >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "no answer on $1" >&2; return 1; }

D=${DANCE:-}
if [ -z "$D" ]; then go build -o "$W/dance" ./cmd/dance; D="$W/dance"; fi
"$D" zone init --zone devices.test --dir "$W/zone" >/dev/null
P=$(port); A=$(port)
"$D" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 --log-level info >"$W/serve.log" 2>&1 &
pids+=($!); SPID=$!
waitdns $P
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$SPID/stat"; } # user+system seconds of the server
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "d%d._device.devices.test,TLSA,3 1 1 %064x\n", i, i * 2654435761 % 4294967296 }' >"$W/ids.csv"
c0=$(cpu); t0=$(date +%s.%N)
"$D" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv"
t1=$(date +%s.%N)
# As run.sh: a marker change triggers one more presign run; when a run
# signs only what the marker touched, everything else was signed already.
presigned() { grep -c "zone presigned" "$W/serve.log" || true; }
i=0
while :; do
  c=$(presigned); i=$((i + 1))
  "$D" zone add --replace --api http://127.0.0.1:$A --dir "$W/zone" marker._device.devices.test TLSA "3 1 1 $(printf %064x $i)" >/dev/null
  while [ "$(presigned)" -le "$c" ]; do sleep 0.2; done
  last=$(grep "zone presigned" "$W/serve.log" | tail -1 | sed 's/.*signatures=\([0-9]*\).*/\1/')
  [ "$last" -lt 50 ] && break
done
t2=$(date +%s.%N); c2=$(cpu)
echo "N $N import_seconds $(echo "$t1 - $t0" | bc) presign_seconds_after_import $(echo "$t2 - $t1" | bc) total_seconds $(echo "$t2 - $t0" | bc) server_cpu_seconds $(echo "$c2 - $c0" | bc) load_average $(cut -d' ' -f1-3 /proc/loadavg)"
# Signatures made over all presign runs: about 2N (one per identity's TLSA
# RRset, one per NSEC3 record) when none is made twice.
grep "zone presigned" "$W/serve.log" | sed 's/.*signatures=\([0-9]*\).*/\1/' |
  awk '{ s += $1; n++ } END { printf "presign_runs %d signatures_made %d\n", n, s }'

