#!/usr/bin/env bash
# Query throughput of two dance binaries taking turns on one presigned
# zone: the A/B comparison for a change to the query path, without the
# import, the transfers and the other servers of run.sh.
#
# Usage: zone/bench/ab.sh N BIN_A BIN_B [ROUNDS]   (ROUNDS default 3)
# Builds the zone of N identities (as run.sh: one TLSA each) with BIN_A,
# presigns it and stops the server, which saves the signatures; then, per
# round, serves the same directory with BIN_A and then BIN_B (each loads
# the signatures saved), warms WARM seconds and measures DUR seconds with
# dnsperf (TLSA+DO, QN random names). Prints "ab round R A|B qps Q".
# The binaries must read the same zone directory format.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:?usage: ab.sh N BIN_A BIN_B [ROUNDS]}
BA=$(realpath "${2:?BIN_A}"); BB=$(realpath "${3:?BIN_B}"); R=${4:-3}
DUR=${DUR:-15}; WARM=${WARM:-20}; QN=${QN:-$N}
. zone/bench/common.sh
workdir dance-zone-ab

"$BA" zone init --zone devices.test --dir "$W/zone" >/dev/null
P=$(port); A=$(port)
"$BA" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --admin-listen 127.0.0.1:$A --allow-transfer 127.0.0.1 --log-level info >"$W/serve.log" 2>&1 &
SPID=$!; pids+=($SPID)
waitdns $P
identities "$N" "$W/ids.csv"
"$BA" zone import --quiet --api http://127.0.0.1:$A --dir "$W/zone" "$W/ids.csv" >/dev/null
waitpresigned "$BA" "127.0.0.1:$A" "$W/serve.log"
kill $SPID; wait $SPID 2>/dev/null || true
grep -q "signatures saved" "$W/serve.log" || { echo "the server saved no signatures" >&2; exit 1; }

queries "$N" "$QN" "$W/q.txt"
qps() { dnsperf -s 127.0.0.1 -p "$1" -d "$W/q.txt" -D -l "$2" -c 8 -T 2 -q 200 2>&1 | awk '/Queries per second/ {print $4}'; }
for r in $(seq "$R"); do
  for side in A B; do
    bin=$BA; [ $side = B ] && bin=$BB
    P=$(port)
    "$bin" zone serve --dir "$W/zone" --listen 127.0.0.1:$P --log-level warn >"$W/serve-$side.log" 2>&1 &
    SPID=$!; pids+=($SPID)
    waitdns $P
    qps $P "$WARM" >/dev/null
    echo "ab round $r $side qps $(qps $P "$DUR") load $(cut -d' ' -f1 /proc/loadavg)"
    kill $SPID; wait $SPID 2>/dev/null || true
  done
done
