package main

import (
	"fmt"
	"strings"
	"time"
)

// percentile returns the perMille-th per-mille of sorted (ascending) by
// nearest rank: the element at rank ⌈perMille × n / 1000⌉ (1-based), the
// smallest value that at least that share of the samples do not exceed.
// No interpolation: the result is always one of the samples. Integer
// arithmetic keeps the boundaries exact (the 99.9th percentile of 1,000
// samples is rank 999; 99.9 / 100 × 1000 in float64 is 999.0000000000001,
// which would round up to 1000). ok is false when sorted is empty.
// perMille is 1 to 1000.
func percentile(sorted []time.Duration, perMille int) (v time.Duration, ok bool) {
	n := len(sorted)
	if n == 0 {
		return 0, false
	}
	rank := (perMille*n + 999) / 1000
	rank = max(1, min(rank, n))
	return sorted[rank-1], true
}

// line is the result as the one output line, its first word label.
// Lost queries are in lost only: the percentiles are over the answered
// queries' latencies.
func (r result) line(label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent %d answered %d lost %d mismatched %d", label, r.sent, r.answered, r.lost, r.mismatched)
	for _, p := range []struct {
		name     string
		perMille int
	}{{"p50_ms", 500}, {"p99_ms", 990}, {"p999_ms", 999}, {"max_ms", 1000}} {
		if v, ok := percentile(r.latencies, p.perMille); ok {
			fmt.Fprintf(&b, " %s %s", p.name, ms(v))
		} else {
			fmt.Fprintf(&b, " %s -", p.name)
		}
	}
	fmt.Fprintf(&b, " not_noerror %d lag_max_ms %s", r.notNoerror, ms(r.lagMax))
	return b.String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}
