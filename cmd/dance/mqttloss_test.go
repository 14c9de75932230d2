package main

import (
	"strings"
	"testing"
)

// TestLossTracker checks which gaps are reported, and when: a late
// reading within the reordering window closes its gap, one beyond it is
// reported, a new stream starts afresh, and flush reports what is left.
func TestLossTracker(t *testing.T) {
	t.Parallel()
	type step struct {
		signer, stream string
		n              uint64
	}
	for _, c := range []struct {
		name  string
		steps []step
		flush bool
		lost  uint64
		lines []string
	}{
		{"in order", []step{{"s", "a", 1}, {"s", "a", 2}, {"s", "a", 3}}, true, 0, nil},
		{"late but here", []step{{"s", "a", 1}, {"s", "a", 3}, {"s", "a", 2}}, true, 0, nil},
		{"gap reported at the end", []step{{"s", "a", 1}, {"s", "a", 4}}, true, 2, []string{"2 readings (2 to 3) of s (stream a)"}},
		{"gap open, not yet reported", []step{{"s", "a", 1}, {"s", "a", 4}}, false, 0, nil},
		{"gap overdue", []step{{"s", "a", 1}, {"s", "a", 3}, {"s", "a", 3 + mqttReorder}}, false, 1, []string{"reading 2 of s (stream a)"}},
		{"wide gap at once", []step{{"s", "a", 1}, {"s", "a", 3 + mqttMaxMissing}}, false, mqttMaxMissing + 1, []string{"of s (stream a)"}},
		{"streams apart", []step{{"s", "a", 5}, {"s", "b", 1}, {"t", "a", 9}, {"s", "b", 2}}, true, 0, nil},
		{"two runs", []step{{"s", "a", 1}, {"s", "a", 3}, {"s", "a", 4}, {"s", "a", 7}}, true, 3, []string{"reading 2 of s", "2 readings (5 to 6) of s"}},
	} {
		var b strings.Builder
		l := newLossTracker(&b, "cloud")
		for _, s := range c.steps {
			l.seen(s.signer, s.stream, s.n)
		}
		if c.flush {
			l.flush()
		}
		if l.lost != c.lost {
			t.Errorf("%s: lost %d, want %d\n%s", c.name, l.lost, c.lost, b.String())
		}
		for _, want := range c.lines {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: no %q in\n%s", c.name, want, b.String())
			}
		}
		if c.lost == 0 && b.Len() > 0 {
			t.Errorf("%s: warned with nothing lost:\n%s", c.name, b.String())
		}
	}
}
