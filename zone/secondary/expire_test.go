package secondary

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/testwait"
)

// fakePrimary stands for the primary's side of a transfer: while down it
// fails every transfer; up, it answers that the serial is current.
type fakePrimary struct {
	mu    sync.Mutex
	down  bool
	soa   dns.RR
	calls int
}

func (p *fakePrimary) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *fakePrimary) transfer(context.Context) ([]dns.RR, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		return nil, errors.New("connection refused (test primary down)")
	}
	return []dns.RR{dns.Copy(p.soa)}, nil
}

func (p *fakePrimary) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// expiredGauge reads dance_secondary_expired from reg.
func expiredGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "dance_secondary_expired" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no dance_secondary_expired metric")
	return 0
}

func health(s *Secondary) (int, string) {
	rec := httptest.NewRecorder()
	s.Health().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, rec.Body.String()
}

// TestExpire: a copy whose primary stops answering expires once its SOA
// expire time passes: one error line with the zone, the primary, the last
// success and the last error, /healthz 503 with the reason, the gauge at
// 1, and the file removed (remove) or left as it was (keep). More failed
// refreshes log no second expiry. The primary coming back clears it all,
// and writes the removed file again.
func TestExpire(t *testing.T) {
	// EXPIRE 2 s; refresh and retry are clamped to MinRefresh, so every
	// refresh after the first one here comes from Notify.
	soa := rr(t, "devices.test. 300 IN SOA ns1.devices.test. hostmaster.devices.test. 7 3600 600 2 300")
	for _, tt := range []struct {
		policy   ExpirePolicy
		fileKept bool
	}{
		{ExpireKeep, true},
		{ExpireRemove, false},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "devices.test.zone")
			s := testSecondary(t, file)
			if _, err := s.apply([]dns.RR{soa, rr(t, "devices.test. 300 IN NS ns1.devices.test."), soa}); err != nil {
				t.Fatal(err)
			}
			if err := s.write(); err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// A new Secondary on the file, as after a restart.
			var logb lockedBuffer
			s = testSecondary(t, file)
			s.log = slog.New(slog.NewTextHandler(&logb, nil))
			s.st.warned = false
			s.setCopy() // as New does, now with the log
			reg := prometheus.NewRegistry()
			if s.metrics, err = newMetrics(reg, s.origin); err != nil {
				t.Fatal(err)
			}
			s.cfg.OnExpire = tt.policy
			p := &fakePrimary{down: true, soa: soa}
			s.xfer = p.transfer

			if code, body := health(s); code != http.StatusOK {
				t.Fatalf("health before Run: %d %s", code, body)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()

			testwait.For(t, "the copy to expire", func() bool { return s.Status().Expired })
			st := s.Status()
			if st.LastErr == nil || !strings.Contains(st.LastErr.Error(), "test primary down") || st.LastSuccess.IsZero() {
				t.Errorf("status %+v, want the last error and the start as last success", st)
			}
			code, body := health(s)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "zone devices.test. expired") || !strings.Contains(body, "test primary down") {
				t.Errorf("health: %d %q, want 503 with the reason", code, body)
			}
			if g := expiredGauge(t, reg); g != 1 {
				t.Errorf("dance_secondary_expired %v, want 1", g)
			}
			log := logb.String()
			if c := strings.Count(log, "SOA expire is shorter than its refresh and retry"); c != 1 {
				t.Errorf("the short expire warned %d times, want once: %s", c, log)
			}
			for _, want := range []string{`level=ERROR msg="zone expired`, "zone=devices.test.", "primary=ns1.devices.test:853", "last_success=", `last_err="connection refused (test primary down)"`} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %s: %s", want, log)
				}
			}
			got, err := os.ReadFile(file)
			switch {
			case tt.fileKept && string(got) != string(orig):
				t.Errorf("keep: file %q, %v; want it as it was", got, err)
			case !tt.fileKept && !errors.Is(err, os.ErrNotExist):
				t.Errorf("remove: file still there (%v)", err)
			}

			// Failing again logs no second expiry.
			n := p.callCount()
			s.Notify()
			testwait.For(t, "another failed refresh", func() bool {
				return p.callCount() > n && strings.Count(logb.String(), `msg="refresh failed"`) >= 2
			})
			if c := strings.Count(logb.String(), `msg="zone expired`); c != 1 {
				t.Errorf("expiry logged %d times, want once", c)
			}

			// The primary comes back.
			p.setDown(false)
			s.Notify()
			testwait.For(t, "a refresh to clear the expiry", func() bool { return !s.Status().Expired })
			if code, body := health(s); code != http.StatusOK {
				t.Errorf("health after the primary came back: %d %q", code, body)
			}
			if g := expiredGauge(t, reg); g != 0 {
				t.Errorf("dance_secondary_expired %v, want 0", g)
			}
			if st := s.Status(); st.LastErr != nil || st.Removed {
				t.Errorf("status after the primary came back: %+v", st)
			}
			if got, err := os.ReadFile(file); err != nil || string(got) != string(orig) {
				t.Errorf("file after the primary came back: %q %v, want the copy", got, err)
			}
			if !strings.Contains(logb.String(), `msg="zone no longer expired"`) {
				t.Errorf("no recovery logged: %s", logb.String())
			}
		})
	}
}

// TestExpireNoCopy: without a copy there is nothing to expire, however
// long the primary stays away.
func TestExpireNoCopy(t *testing.T) {
	s := testSecondary(t, filepath.Join(t.TempDir(), "z"))
	p := &fakePrimary{down: true}
	s.xfer = p.transfer
	s.startClock(time.Now().Add(-time.Hour))
	s.checkExpiry(time.Now())
	if st := s.Status(); st.Expired || st.HasCopy {
		t.Fatalf("status %+v, want not expired without a copy", st)
	}
}

// TestExpireWarning: an SOA whose expire is shorter than its refresh and
// retry timers (clamped) is warned about, once per value; a sound one is
// not.
func TestExpireWarning(t *testing.T) {
	for _, tt := range []struct {
		soa  string
		warn bool
	}{
		{"3600 600 1209600", false},
		{"3600 600 4200", false},
		{"3600 600 4199", true},
		{"1 1 19", true}, // the timers are clamped to MinRefresh
		{"1 1 20", false},
		{"3600 600 0", true},
	} {
		s := testSecondary(t, filepath.Join(t.TempDir(), "z"))
		var logb lockedBuffer
		s.log = slog.New(slog.NewTextHandler(&logb, nil))
		r := rr(t, "devices.test. 300 IN SOA ns1.devices.test. hostmaster.devices.test. 1 "+tt.soa+" 300")
		for range 2 {
			if _, err := s.apply([]dns.RR{r, rr(t, "devices.test. 300 IN NS ns1.devices.test."), r}); err != nil {
				t.Fatal(err)
			}
			s.setCopy()
		}
		want := 0
		if tt.warn {
			want = 1
		}
		if c := strings.Count(logb.String(), "SOA expire is shorter"); c != want {
			t.Errorf("SOA timers %s: warned %d times, want %d: %s", tt.soa, c, want, logb.String())
		}
	}
}

func TestParseExpirePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ExpirePolicy
		err  bool
	}{
		{"", ExpireKeep, false},
		{"keep", ExpireKeep, false},
		{"remove", ExpireRemove, false},
		{"delete", "", true},
		{"Keep", "", true},
	} {
		got, err := ParseExpirePolicy(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%q: %q %v", tt.in, got, err)
		}
	}
}
