#!/usr/bin/env bash
# Resident memory across a restart of a zone server with secondaries: the
# IXFR journal, written at the stop, holds the transferred zone, and is
# read back at the start.
#
# Usage: zone/bench/restart.sh [N]   (default 1000000)
#        DANCE=path/to/dance zone/bench/restart.sh N   (a binary built elsewhere)
# Imports N identities, waits for presigning, transfers the zone (AXFR)
# so that the journal records it, stops the server (SIGTERM: the journal
# file is written), starts it again and prints the server's memory
# (mem_* lines: resident, anonymous and file-backed kB) before the stop,
# once it answers after the start, and SETTLE seconds later (default
# 30), then the time and size of an AXFR after the restart.
# JOURNAL=0 deletes the journal file before the start: the start of a
# server that has no transferred zone to keep.
# Needs: dig (Debian: bind9-dnsutils).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
SETTLE=${SETTLE:-30}
JOURNAL=${JOURNAL:-1}
. zone/bench/common.sh
workdir dance-zone-restart

dancezone
serve() {
  "$D" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 --log-level info >>"$W/serve.log" 2>&1 &
  pids+=($!); SPID=$!
  waitdns $P
}
serve
identities "$N" "$W/ids.csv"
"$D" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv"
waitpresigned "$D" "127.0.0.1:$A" "$W/serve.log"
t0=$(date +%s.%N)
records=$(dig @127.0.0.1 -p $P devices.test AXFR +time=600 +nocmd +nocomments +nostats | grep -vc '^;')
echo "N $N axfr_seconds $(echo "$(date +%s.%N) - $t0" | bc) records $records"
for _ in $(seq 600); do grep -q 'memory returned to the system after a large transfer' "$W/serve.log" && break; sleep 0.2; done
resident $SPID before_stop
t0=$(date +%s.%N)
kill -TERM $SPID
wait $SPID || true
echo "stop_seconds $(echo "$(date +%s.%N) - $t0" | bc) journal_bytes $(stat -c %s "$W/zone/ixfr.journal")"
[ "$JOURNAL" = 0 ] && rm "$W/zone/ixfr.journal"
t0=$(date +%s.%N)
serve
echo "start_seconds $(echo "$(date +%s.%N) - $t0" | bc)"
resident $SPID started
sleep "$SETTLE"
resident $SPID settled
grep -E "journal" "$W/serve.log" | tail -3 | sed 's/^/log: /'
t0=$(date +%s.%N)
again=$(dig @127.0.0.1 -p $P devices.test AXFR +time=600 +nocmd +nocomments +nostats | grep -vc '^;')
echo "axfr_after_restart_seconds $(echo "$(date +%s.%N) - $t0" | bc) records $again"
