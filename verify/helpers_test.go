package verify

import (
	"crypto/x509"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
)

func mustAllow(t testing.TB, patterns ...string) *AllowList {
	t.Helper()
	a, err := ParseAllowList(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newCore(t testing.TB, cfg Config) *Core {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func readCert(t testing.TB, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
