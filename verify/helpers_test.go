package verify

import (
	"crypto"
	"crypto/x509"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// cred is a key and its certificate.
type cred struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func (c cred) spki() []byte { return c.cert.RawSubjectPublicKeyInfo }

func newKey(t testing.TB, kt identity.KeyType) crypto.Signer {
	t.Helper()
	k, err := identity.GenerateKey(kt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// selfSigned makes a device, service or host identity with its own key.
func selfSigned(t testing.TB, name string, kt identity.KeyType) cred {
	t.Helper()
	k := newKey(t, kt)
	c, err := identity.SelfSigned(identity.MustParseName(name), k, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cred{k, c}
}

func newCA(t testing.TB, kind identity.CAKind, domain string, o identity.Options) identity.Issuer {
	t.Helper()
	k := newKey(t, identity.KeyECDSAP256)
	c, err := identity.NewCA(kind, identity.MustParseName(domain), k, o)
	if err != nil {
		t.Fatal(err)
	}
	return identity.Issuer{Cert: c, Key: k}
}

func issueDevice(t testing.TB, name string, ca identity.Issuer, o identity.Options) cred {
	t.Helper()
	k := newKey(t, identity.KeyECDSAP256)
	c, err := identity.IssueDevice(identity.MustParseName(name), k.Public(), ca, o)
	if err != nil {
		t.Fatal(err)
	}
	return cred{k, c}
}

func issueUser(t testing.TB, uid, domain string, ca identity.Issuer) cred {
	t.Helper()
	k := newKey(t, identity.KeyECDSAP256)
	c, err := identity.IssueUser(identity.User{UID: uid, Domain: identity.MustParseName(domain)}, k.Public(), ca, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cred{k, c}
}

// eeLine is the DANE-EE SPKI SHA2-256 record of pub at owner.
func eeLine(t testing.TB, owner string, pub crypto.PublicKey) string {
	t.Helper()
	r, err := tlsa.ForPublicKey(pub, tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// taLine is the DANE-TA Cert SHA2-256 record of a CA at owner.
func taLine(t testing.TB, owner string, ca *x509.Certificate) string {
	t.Helper()
	r, err := tlsa.ForCertificate(ca, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// newResolver is the project's resolver anchored at the hierarchy's root.
func newResolver(t testing.TB, h *dnstest.Hierarchy, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	a, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Anchors = a
	if cfg.Upstreams == nil && cfg.Exchange == nil {
		cfg.Upstreams = []string{h.Addr()}
	}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

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
