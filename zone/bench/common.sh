# Shell functions the zone benchmarks share (run.sh, import.sh, ab.sh,
# flood.sh and restart.sh source this file). W is a script's work
# directory: workdir makes it, or the script does (run.sh).

# workdir NAME: makes W, a new directory /tmp/NAME.XXXXXX, and on exit
# kills the processes whose PIDs the script added to pids and removes W.
workdir() {
  W=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"' EXIT
}

# port: a port picked at random above 20000 (the scripts bind 127.0.0.1).
port() { echo $((20000 + RANDOM % 20000)); }

# waitdns PORT: waits until a server on PORT answers the zone's SOA (two
# minutes at most: a server loading a million identities takes a while).
waitdns() {
  for _ in $(seq 600); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$1" devices.test SOA >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "no answer on $1" >&2
  return 1
}

# identities N FILE: the CSV of N identities, one TLSA 3 1 1 record each,
# for 'dance zone import'.
identities() {
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "d%d._device.devices.test,TLSA,3 1 1 %064x\n", i, i * 2654435761 % 4294967296 }' >"$2"
}

# queries N QN FILE: dnsperf's query file of QN TLSA queries for names
# drawn at random (fixed seed) from N identities.
queries() {
  awk -v n="$1" -v q="$2" 'BEGIN { srand(1); for (i = 0; i < q; i++) printf "d%d._device.devices.test TLSA\n", int(rand() * n) }' >"$3"
}

# waitpresigned DANCE API LOG: returns once the server whose admin API is
# API (host:port) and whose log is LOG has presigned the whole zone. A
# marker change triggers one more presign run; when a run signs only what
# the marker touched, everything else was signed already.
waitpresigned() {
  local d=$1 api=$2 log=$3 i=0 c last
  while :; do
    c=$(grep -c "zone presigned" "$log" || true); i=$((i + 1))
    "$d" zone add --replace --api "http://$api" --dir "$W/zone" marker._device.devices.test TLSA "3 1 1 $(printf %064x $i)" >/dev/null
    while [ "$(grep -c "zone presigned" "$log" || true)" -le "$c" ]; do sleep 0.2; done
    last=$(grep "zone presigned" "$log" | tail -1 | sed 's/.*signatures=\([0-9]*\).*/\1/')
    [ "$last" -lt 50 ] && return 0
  done
}

# resident PID WHEN: where the resident bytes of process PID are
# (anonymous memory: the Go heap and runtime; file pages: the store's
# mmap), as one line "mem_WHEN rss_kb R anon_kb A file_kb F".
resident() {
  awk -v w="$2" '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2}
    END { printf "mem_%s rss_kb %d anon_kb %d file_kb %d\n", w, r, a, r - a }' "/proc/$1/smaps_rollup"
}

# dancezone: sets D, the dance binary (DANCE, or built into $W), makes
# the zone devices.test in $W/zone, and sets P and A, ports for its DNS
# and admin listeners.
dancezone() {
  D=${DANCE:-}
  if [ -z "$D" ]; then go build -o "$W/dance" ./cmd/dance; D="$W/dance"; fi
  "$D" zone init --zone devices.test --dir "$W/zone" >/dev/null
  P=$(port); A=$(port)
}
