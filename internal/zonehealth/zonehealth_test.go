package zonehealth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/resolver"
)

type badErr struct{ zones []resolver.ZoneCheck }

func (e *badErr) Error() string                  { return "bad: " + Reasons(e.zones) }
func (e *badErr) BadZones() []resolver.ZoneCheck { return e.zones }

func TestSort(t *testing.T) {
	checks := []resolver.ZoneCheck{
		{Zone: "ok.test.", Problem: resolver.ProblemNone},
		{Zone: "down.test.", Problem: resolver.ProblemUnreachable},
		{Zone: "bogus.test.", Problem: resolver.ProblemBogus},
		{Zone: "insecure.test.", Problem: resolver.ProblemInsecure},
	}
	u, b := Sort(checks)
	if len(u) != 1 || u[0].Zone != "down.test." {
		t.Errorf("unreachable = %v", u)
	}
	if len(b) != 2 || b[0].Zone != "bogus.test." || b[1].Zone != "insecure.test." {
		t.Errorf("bad = %v", b)
	}
}

func status(t *testing.T, h *Health) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, rec.Body.String()
}

// TestWatch: a failing check makes the server unhealthy, with the zone
// named, and is run again until it passes; then the server is healthy
// and the checks stop.
func TestWatch(t *testing.T) {
	h := &Health{Retry: time.Millisecond, MaxRetry: 4 * time.Millisecond, Subject: "test", Whose: "clients"}
	if code, _ := status(t, h); code != http.StatusOK {
		t.Fatalf("zero Health: %d, want 200", code)
	}
	down := []resolver.ZoneCheck{{Zone: "down.test.", Problem: resolver.ProblemUnreachable}}
	var runs atomic.Int32
	check := func(context.Context) ([]resolver.ZoneCheck, error) {
		if runs.Add(1) < 3 {
			return down, nil
		}
		return nil, nil
	}
	h.Watch(check, nil, &badErr{zones: []resolver.ZoneCheck{{Zone: "bogus.test.", Problem: resolver.ProblemBogus}}})
	defer h.Stop()
	code, body := status(t, h)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "bogus.test") || !strings.HasPrefix(body, "unhealthy: test: ") {
		t.Fatalf("after a bad check: %d %q", code, body)
	}
	testwait.For(t, "the checks to pass", func() bool { return h.Err() == nil })
	if n := runs.Load(); n != 3 {
		t.Errorf("check ran %d times, want 3 (two failures, then a pass)", n)
	}
	if code, _ := status(t, h); code != http.StatusOK {
		t.Errorf("after the checks passed: %d", code)
	}
}

// TestStop: Stop ends the background checks and waits for them; a later
// Watch with a passing outcome starts none.
func TestStop(t *testing.T) {
	h := &Health{Retry: time.Millisecond, MaxRetry: time.Millisecond}
	var runs atomic.Int32
	h.Watch(func(context.Context) ([]resolver.ZoneCheck, error) {
		runs.Add(1)
		return nil, errors.New("still failing")
	}, nil, errors.New("failing"))
	testwait.For(t, "a background check", func() bool { return runs.Load() > 0 })
	h.Stop()
	n := runs.Load()
	time.Sleep(20 * time.Millisecond) // checks would run every millisecond
	if runs.Load() != n {
		t.Errorf("checks ran after Stop")
	}
	if h.Err() == nil {
		t.Errorf("Stop forgot the outcome")
	}
	h.Watch(nil, nil, nil)
	if h.Err() != nil {
		t.Errorf("a passing outcome left %v", h.Err())
	}
}
