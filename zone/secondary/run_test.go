package secondary

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestRunNotifyAndStop: Run answers NOTIFY for its zone (and only for
// it), each one making it ask the primary again; a primary that cannot
// be reached is logged, not fatal; and Run stops with its context,
// leaving nothing running.
func TestRunNotifyAndStop(t *testing.T) {
	// A port nobody listens on: every refresh fails to connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	s := testSecondary(t, filepath.Join(t.TempDir(), "z"))
	var logb lockedBuffer
	s.log = slog.New(slog.NewTextHandler(&logb, nil))
	s.cfg.Addr, s.cfg.NotifyListen = dead, "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	re := regexp.MustCompile(`listening for NOTIFY" addr=(127\.0\.0\.1:\d+)`)
	failures := regexp.MustCompile(`msg="refresh failed"`)
	var m []string
	if !testwait.Until(30*time.Second, func() bool {
		m = re.FindStringSubmatch(logb.String())
		return m != nil && len(failures.FindAllString(logb.String(), -1)) == 1
	}) {
		t.Fatalf("Run did not start and try once: %s", logb.String())
	}
	n := new(dns.Msg)
	n.SetNotify("devices.test.")
	if r, err := dns.Exchange(n, m[1]); err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("NOTIFY: %v %v", err, r)
	}
	if !testwait.Until(30*time.Second, func() bool { return len(failures.FindAllString(logb.String(), -1)) == 2 }) {
		t.Fatalf("NOTIFY did not make Run ask again: %s", logb.String())
	}
	for _, tt := range []struct {
		name  string
		msg   func() *dns.Msg
		rcode int
	}{
		{"another zone", func() *dns.Msg { m := new(dns.Msg); m.SetNotify("other.test."); return m }, dns.RcodeNotAuth},
		{"a query", func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("devices.test.", dns.TypeSOA); return m }, dns.RcodeRefused},
	} {
		if r, err := dns.Exchange(tt.msg(), m[1]); err != nil || r.Rcode != tt.rcode {
			t.Errorf("%s: %v %v, want %s", tt.name, err, r, dns.RcodeToString[tt.rcode])
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	if _, err := s.Refresh(context.Background()); err == nil || errors.Is(err, ErrHandshake) {
		t.Fatalf("Refresh against a closed port: %v, want a connection error", err)
	}
}
