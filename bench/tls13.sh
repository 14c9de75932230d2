#!/usr/bin/env bash
# The tls13 engine against crypto/tls, side by side in one process
# (tls13/bench_test.go): full handshakes with client certificates (P-256
# and Ed25519, X25519 and X25519MLKEM768), resumed handshakes, and 16 KiB
# writes. ROUNDS rounds, each running every workload once with each
# implementation in turn, so a change in the machine's load falls on both;
# the table gives medians over the rounds, the ratio of the medians
# crypto/tls CPU ÷ ours (at least 0.9 is the target: ours does that share
# of crypto/tls's handshakes per CPU-second), the lowest and highest ratio
# of a single round, and allocations and bytes per op, ours and theirs.
#
# Usage (from the repository):
#   bench/tls13.sh [ROUNDS] [BENCHTIME]      defaults: 6 rounds, 1s
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6}
benchtime=${2:-1s}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/tls13.test" ./tls13

echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- tls13 || echo ' (tls13 modified)'), $(go version | cut -d' ' -f3), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$work/tls13.test" -test.run '^$' -test.bench 'Handshake|Throughput' -test.benchmem \
    -test.benchtime "$benchtime" -test.count 1 | grep '^Benchmark' >>"$work/out"
  echo "round $r of $rounds done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# Lines: BenchmarkX/.../impl=NAME-P  N  T ns/op  C cpu-ns/op  [MB/s]  B B/op  A allocs/op
awk '
function median(s,   a, n, i, j, t) {
  n = split(s, a, " ")
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j+1] = a[j]; a[j+1] = t }
  return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
  name = $1; sub(/-[0-9]+$/, "", name)
  impl = name; sub(/.*impl=/, "", impl)
  work = name; sub(/\/impl=.*/, "", work); sub(/^Benchmark/, "", work)
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "cpu-ns/op") cpu[work, impl] = cpu[work, impl] " " $i
    if ($(i+1) == "allocs/op") al[work, impl] = al[work, impl] " " $i
    if ($(i+1) == "B/op") by[work, impl] = by[work, impl] " " $i
  }
  if (!(work in seen)) { seen[work] = 1; order[++n] = work }
}
END {
  printf "| workload | dance CPU µs/op | crypto/tls CPU µs/op | ratio (crypto/tls ÷ dance) | ratio per round, low-high | dance allocs/op | crypto/tls allocs/op | dance B/op | crypto/tls B/op |\n"
  printf "|---|---|---|---|---|---|---|---|---|\n"
  for (k = 1; k <= n; k++) {
    w = order[k]
    ours = median(cpu[w, "dance"]); theirs = median(cpu[w, "crypto-tls"])
    m = split(cpu[w, "dance"], o, " "); split(cpu[w, "crypto-tls"], c, " ")
    lo = hi = c[1] / o[1]
    for (i = 2; i <= m; i++) { r = c[i] / o[i]; if (r < lo) lo = r; if (r > hi) hi = r }
    printf "| %s | %.0f | %.0f | %.2f | %.2f-%.2f | %d | %d | %d | %d |\n", w, ours / 1000, theirs / 1000, theirs / ours, lo, hi,
      median(al[w, "dance"]), median(al[w, "crypto-tls"]), median(by[w, "dance"]), median(by[w, "crypto-tls"])
  }
}' "$work/out"
