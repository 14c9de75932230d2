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
. zone/bench/common.sh
workdir dance-zone-import

dancezone
"$D" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 --log-level info >"$W/serve.log" 2>&1 &
pids+=($!); SPID=$!
waitdns $P
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$SPID/stat"; } # user+system seconds of the server
identities "$N" "$W/ids.csv"
c0=$(cpu); t0=$(date +%s.%N)
"$D" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv"
t1=$(date +%s.%N)
waitpresigned "$D" "127.0.0.1:$A" "$W/serve.log"
t2=$(date +%s.%N); c2=$(cpu)
echo "N $N import_seconds $(echo "$t1 - $t0" | bc) presign_seconds_after_import $(echo "$t2 - $t1" | bc) total_seconds $(echo "$t2 - $t0" | bc) server_cpu_seconds $(echo "$c2 - $c0" | bc) load_average $(cut -d' ' -f1-3 /proc/loadavg)"
# Signatures made over all presign runs: about 2N (one per identity's TLSA
# RRset, one per NSEC3 record) when none is made twice.
grep "zone presigned" "$W/serve.log" | sed 's/.*signatures=\([0-9]*\).*/\1/' |
  awk '{ s += $1; n++ } END { printf "presign_runs %d signatures_made %d\n", n, s }'

