package main

import (
	"strings"
	"testing"
	"time"
)

// ramp returns 1 ms, 2 ms, ... n ms: the sample of rank k is k ms.
func ramp(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Millisecond
	}
	return s
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name     string
		samples  []time.Duration
		perMille int
		want     time.Duration // ms; ignored when !ok
		ok       bool
	}{
		{"empty", nil, 500, 0, false},
		{"empty max", []time.Duration{}, 1000, 0, false},
		{"one sample p50", ramp(1), 500, 1, true},
		{"one sample p99.9", ramp(1), 999, 1, true},
		{"one sample max", ramp(1), 1000, 1, true},
		{"one sample p0.1", ramp(1), 1, 1, true},
		{"two p50 is the lower", ramp(2), 500, 1, true},
		{"two just past p50", ramp(2), 501, 2, true},
		{"two max", ramp(2), 1000, 2, true},
		{"ten p99", ramp(10), 990, 10, true},
		{"ten p90 exact", ramp(10), 900, 9, true},
		{"hundred p99 exact", ramp(100), 990, 99, true},
		{"hundred p99.9 rounds up", ramp(100), 999, 100, true},
		{"thousand p50 exact", ramp(1000), 500, 500, true},
		{"thousand p99 exact", ramp(1000), 990, 990, true},
		{"thousand p99.9 exact", ramp(1000), 999, 999, true},
		{"thousand max", ramp(1000), 1000, 1000, true},
		{"thousand p0.1", ramp(1000), 1, 1, true},
		{"1001 p50 rounds up", ramp(1001), 500, 501, true},
		{"1001 p99.9 rounds up", ramp(1001), 999, 1000, true},
		{"2000 p99.9 exact", ramp(2000), 999, 1998, true},
		{"100000 p99.9 exact", ramp(100000), 999, 99900, true},
		{"100001 p99.9 rounds up", ramp(100001), 999, 99901, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := percentile(tt.samples, tt.perMille)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if want := tt.want * time.Millisecond; ok && got != want {
				t.Errorf("percentile(%d samples, %d‰) = %v, want %v", len(tt.samples), tt.perMille, got, want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		name string
		r    result
		want string
	}{
		{
			"nothing answered",
			result{sent: 3, lost: 3, mismatched: 1},
			"lat_x sent 3 answered 0 lost 3 mismatched 1 p50_ms - p99_ms - p999_ms - max_ms - not_noerror 0 lag_max_ms 0.000",
		},
		{
			"answered",
			result{sent: 4, answered: 3, lost: 1, notNoerror: 1, lagMax: 1500 * time.Microsecond,
				latencies: []time.Duration{250 * time.Microsecond, time.Millisecond, 300*time.Millisecond + 1234*time.Nanosecond}},
			"lat_x sent 4 answered 3 lost 1 mismatched 0 p50_ms 1.000 p99_ms 300.001 p999_ms 300.001 max_ms 300.001 not_noerror 1 lag_max_ms 1.500",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.line("lat_x"); got != tt.want {
				t.Errorf("line:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	ok := config{rate: 1000, duration: time.Second, timeout: 2 * time.Second}
	tests := []struct {
		name    string
		mod     func(*config)
		wantErr string
	}{
		{"defaults", func(*config) {}, ""},
		{"IDs just enough", func(c *config) { c.rate = 32767 }, ""},
		{"IDs just short", func(c *config) { c.rate = 32768 }, "in flight"},
		{"IDs short by a long timeout", func(c *config) { c.timeout = 66 * time.Second }, "in flight"},
		{"no rate", func(c *config) { c.rate = 0 }, "-rate"},
		{"negative rate", func(c *config) { c.rate = -1 }, "-rate"},
		{"no duration", func(c *config) { c.duration = 0 }, "-duration"},
		{"no timeout", func(c *config) { c.timeout = 0 }, "-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.check()
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("check() = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestSchedule checks the open-loop schedule: how many queries a run
// holds and when each leaves.
func TestSchedule(t *testing.T) {
	tests := []struct {
		rate     int
		duration time.Duration
		total    int
		at3      time.Duration
	}{
		{1000, 15 * time.Second, 15000, 3 * time.Millisecond},
		{200, time.Second, 200, 15 * time.Millisecond},
		{100, 50 * time.Millisecond, 5, 30 * time.Millisecond},
		{100, 51 * time.Millisecond, 6, 30 * time.Millisecond}, // the 6th at 50 ms < 51 ms
		{300, time.Second, 300, 10 * time.Millisecond},
		{3, time.Second, 3, time.Second},
		{1, 500 * time.Millisecond, 1, 3 * time.Second},
	}
	for _, tt := range tests {
		c := config{rate: tt.rate, duration: tt.duration}
		if got := c.total(); got != tt.total {
			t.Errorf("rate %d for %v: %d queries, want %d", tt.rate, tt.duration, got, tt.total)
		}
		if got := c.at(3); got != tt.at3 {
			t.Errorf("rate %d: query 3 at %v, want %v", tt.rate, got, tt.at3)
		}
	}
}
