package main

import (
	"fmt"
	"math"
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
		{"wide gap: beyond the window at once", []step{{"s", "a", 1}, {"s", "a", 12 + mqttReorder}}, false, 10, []string{"10 readings (2 to 11) of s (stream a)"}},
		{"wide gap: the rest at the end", []step{{"s", "a", 1}, {"s", "a", 12 + mqttReorder}}, true, 10 + mqttReorder, []string{"10 readings (2 to 11)", fmt.Sprintf("%d readings (12 to %d)", mqttReorder, 11+mqttReorder)}},
		{"the highest number", []step{{"s", "a", 1}, {"s", "a", math.MaxUint64}}, false, math.MaxUint64 - 2 - mqttReorder, []string{"of s (stream a)"}},
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

// TestLossTrackerBounded: a signer that opens stream after stream (its
// stream ids are its own choice) leaves at most mqttMaxStreams behind,
// each with at most mqttReorder missing numbers; the stream seen least
// recently goes first, its open gaps reported, and a stream still in use
// keeps being followed.
func TestLossTrackerBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	l := newLossTracker(&b, "gateway")
	l.seen("s", "genuine", 1)
	l.seen("s", "dropped", 1)
	l.seen("s", "dropped", 3)
	for i := 0; i < 3*mqttMaxStreams; i++ {
		l.seen("s", fmt.Sprintf("flood%d", i), 1)
		l.seen("s", fmt.Sprintf("flood%d", i), 1000)
		if i%100 == 0 {
			l.seen("s", "genuine", uint64(2+i/100))
		}
	}
	if len(l.streams) > mqttMaxStreams {
		t.Fatalf("%d streams followed, at most %d", len(l.streams), mqttMaxStreams)
	}
	for k, s := range l.streams {
		if len(s.missing) > mqttReorder {
			t.Fatalf("%s: %d missing numbers remembered, at most %d", k, len(s.missing), mqttReorder)
		}
	}
	if !strings.Contains(b.String(), "reading 2 of s (stream dropped)") {
		t.Errorf("the dropped stream's gap was not reported:\n%.500s", b.String())
	}
	if _, ok := l.streams["s genuine"]; !ok {
		t.Fatal("the stream in use was dropped")
	}
	before := l.lost
	l.seen("s", "genuine", 3*mqttMaxStreams)
	l.flush()
	if l.lost == before {
		t.Error("a gap in the stream in use was not reported")
	}
}
