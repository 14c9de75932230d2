#!/usr/bin/env bash
# End-to-end messages per second of the sensor → gateway → cloud flow
# through mosquitto: `dance mqtt sensor` signs and publishes N readings
# (QoS 1, each acknowledged before the next), `dance mqtt gateway`
# authenticates each sensor's message and countersigns it, `dance mqtt
# cloud` authenticates both signatures. Identities are ECDSA P-256 with
# 3 1 1 records (the certificate travels in each message) in a zone served
# by `dance zone serve` on 127.0.0.1; verdicts come from the warm cache
# after the first message. The time runs from the first reading published
# to the cloud's last verdict.
#
# Usage (from the repository): bench/mqtt.sh [N] [jws|cose]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
format=${2:-jws}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
waitfor() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no \"$2\" in $1:" >&2; cat "$1" >&2; exit 1; }

go build -o "$work/dance" ./cmd/dance
d="$work/dance"
"$d" zone init --zone bench.test --dir "$work/zone" >/dev/null
"$d" zone serve --dir "$work/zone" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/zone.log" 2>&1 &
pids+=($!)
waitfor "$work/zone.log" "admin API on"
for who in sensor1 gw1; do
  "$d" id new --name "$who._device.bench.test" --out "$work/$who" | "$d" zone add --dir "$work/zone" --from - >/dev/null
done
dns=$(grep -o 'on 127\.0\.0\.1:[0-9]*' "$work/zone.log" | head -1 | cut -d' ' -f2)

port=$(freeport)
# max_queued_messages 0: the sensor outruns the gateway, and mosquitto's
# default of 1000 queued messages per client would drop the rest.
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
waitfor "$work/mosquitto.log" "running"
broker="tcp://127.0.0.1:$port"
res=(--resolver "$dns" --anchors "$work/zone/anchors")

"$d" mqtt gateway --broker "$broker" --identity "$work/gw1" --allow sensor1._device.bench.test --count "$n" "${res[@]}" >"$work/gateway.out" 2>"$work/gateway.err" &
pids+=($!)
"$d" mqtt cloud --broker "$broker" --allow sensor1._device.bench.test --gateway gw1._device.bench.test --count "$n" "${res[@]}" >"$work/cloud.out" 2>"$work/cloud.err" &
cloud=$!
pids+=($cloud)
waitfor "$work/gateway.err" "forwarding"
waitfor "$work/cloud.err" "reading"

start=$(date +%s.%N)
seq "$n" | "$d" mqtt sensor --broker "$broker" --identity "$work/sensor1" --format "$format" -
wait "$cloud"
end=$(date +%s.%N)
ok=$(grep -c '^authenticated: sensor=sensor1._device.bench.test gateway=gw1._device.bench.test reading=' "$work/cloud.out" || true)
if [ "$ok" != "$n" ]; then
  echo "only $ok of $n readings authenticated by the cloud:" >&2
  grep -v '^authenticated' "$work/cloud.out" | head >&2
  exit 1
fi
python3 -c "import sys; n,s,e=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'{n} {sys.argv[4]} readings in {e-s:.2f} s: {n/(e-s):.0f} messages/s end to end')" "$n" "$start" "$end" "$format"
grep -h '^dance: \(gateway\|cloud\): [0-9]' "$work/gateway.err" "$work/cloud.err" || true
