package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
)

// fakeChecker returns the problems it is given, the last one forever.
type fakeChecker struct {
	mu    sync.Mutex
	seq   [][]resolver.Problem
	calls int
}

func (f *fakeChecker) CheckZones(_ context.Context, names []string) []resolver.ZoneCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.seq[min(f.calls, len(f.seq)-1)]
	f.calls++
	var out []resolver.ZoneCheck
	for i, p := range ps {
		c := resolver.ZoneCheck{Zone: names[i] + ".", Names: []string{names[i]}, Problem: p}
		if p != resolver.ProblemNone {
			c.Reason = &resolver.Reason{Text: "test says " + p.String()}
		} else {
			c.Status = resolver.Secure
		}
		out = append(out, c)
	}
	return out
}

func TestCheckConfig(t *testing.T) {
	names := []string{"a.test", "b.test", "c.test"}
	tests := []struct {
		problems        []resolver.Problem
		wantUnreachable int
		wantBad         int
	}{
		{[]resolver.Problem{resolver.ProblemNone, resolver.ProblemNone, resolver.ProblemNone}, 0, 0},
		{[]resolver.Problem{resolver.ProblemUnreachable, resolver.ProblemNone, resolver.ProblemUnreachable}, 2, 0},
		{[]resolver.Problem{resolver.ProblemUnreachable, resolver.ProblemNoAnchor, resolver.ProblemBogus}, 1, 2},
	}
	for _, tt := range tests {
		u, err := proxy.CheckConfig(context.Background(), &fakeChecker{seq: [][]resolver.Problem{tt.problems}}, names)
		var ce *proxy.ConfigError
		if len(u) != tt.wantUnreachable || (tt.wantBad == 0) != (err == nil) || err != nil && (!errors.As(err, &ce) || len(ce.Checks) != tt.wantBad) {
			t.Errorf("%v: unreachable %d, err %v; want %d unreachable, %d bad", tt.problems, len(u), err, tt.wantUnreachable, tt.wantBad)
		}
		if err != nil && !strings.Contains(err.Error(), "test says") {
			t.Errorf("error %q lacks the zones' reasons", err)
		}
	}
}

// TestHealthWatch: unhealthy while a check fails, healthy again once it
// passes, and /healthz says so.
func TestHealthWatch(t *testing.T) {
	names := []string{"a.test"}
	fc := &fakeChecker{seq: [][]resolver.Problem{{resolver.ProblemUnreachable}, {resolver.ProblemBogus}, {resolver.ProblemNone}}}
	h := &proxy.Health{Retry: time.Millisecond}
	defer h.Stop()
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("zero Health: %d %q", code, body)
	}
	u, err := proxy.CheckConfig(context.Background(), fc, names)
	h.Watch(fc, names, u, err)
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "a.test") || !strings.Contains(body, "unreachable") {
		t.Fatalf("after an unreachable check: %d %q", code, body)
	}
	for deadline := time.Now().Add(30 * time.Second); h.Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("still unhealthy: %v", h.Err())
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	fc.mu.Lock()
	calls := fc.calls
	fc.mu.Unlock()
	if calls != 3 {
		t.Errorf("%d checks, want 3 (unreachable, bogus, ok): checks stop once healthy", calls)
	}
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("healthy, /healthz %d", code)
	}
}

// TestHealthStop: a new Watch replaces the old one, and Stop ends the
// checks.
func TestHealthStop(t *testing.T) {
	names := []string{"a.test"}
	fc := &fakeChecker{seq: [][]resolver.Problem{{resolver.ProblemUnreachable}}}
	h := &proxy.Health{Retry: time.Hour}
	u, err := proxy.CheckConfig(context.Background(), fc, names)
	h.Watch(fc, names, u, err)
	h.Watch(fc, names, nil, nil) // a reload that found everything fine
	if h.Err() != nil {
		t.Fatalf("after a good check: %v", h.Err())
	}
	h.Watch(fc, names, u, err)
	h.Stop() // returns at once: the hour-long wait is cancelled
	if h.Err() == nil {
		t.Fatal("Stop forgot the last outcome")
	}
}
