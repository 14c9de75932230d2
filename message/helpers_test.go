package message

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// clock is a clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fullLine is the DANE-EE SPKI Full (3 1 0) record of pub at owner.
func fullLine(t testing.TB, owner string, pub crypto.PublicKey) string {
	t.Helper()
	r, err := tlsa.ForPublicKey(pub, tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// certLine is the DANE-EE Cert SHA2-256 (3 0 1) record of cert at owner.
func certLine(t testing.TB, owner string, cert *x509.Certificate) string {
	t.Helper()
	r, err := tlsa.ForCertificate(cert, tlsa.DANEEE, tlsa.SelectorCert, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// p384 makes a self-signed identity with a P-384 key (ES384), which
// identity.KeyTypes does not offer.
func p384(t testing.TB, name string) testident.Cred {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.SelfSigned(identity.MustParseName(name), k, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return testident.Cred{Key: k, Cert: c}
}

// world is a signed DNS hierarchy with identities published in every way a
// record can select a key, and a verifier in front of it.
type world struct {
	h     *dnstest.Hierarchy
	core  *verify.Core
	clock *clock
	// full: 3 1 0 records; digest: 3 1 1; cert: 3 0 1; issued: by org, 2 0 1.
	full, ed, rsa, es384, digest, cert, issued testident.Cred
	org                                        identity.Issuer
	alice                                      testident.Cred
	users                                      identity.Issuer
}

const (
	nFull    = "sensor1._device.example.test"
	nEd      = "sensor2._device.example.test"
	nRSA     = "sensor3._device.example.test"
	nES384   = "sensor4._device.example.test"
	nDigest  = "sensor5._device.example.test"
	nCert    = "sensor6._device.example.test"
	nIssued  = "sensor7._device.example.test"
	nGone    = "sensor9._device.example.test"
	nRevoked = "sensor8._device.example.test"
	nUsers   = "_user.example.test"
)

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{clock: &clock{now: time.Now()}}
	w.full = testident.SelfSigned(t, nFull, identity.KeyECDSAP256)
	w.ed = testident.SelfSigned(t, nEd, identity.KeyEd25519)
	w.rsa = testident.SelfSigned(t, nRSA, identity.KeyRSA2048)
	w.es384 = p384(t, nES384)
	w.digest = testident.SelfSigned(t, nDigest, identity.KeyECDSAP256)
	w.cert = testident.SelfSigned(t, nCert, identity.KeyEd25519)
	w.org = testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	w.issued = testident.IssueDevice(t, nIssued, w.org, identity.Options{})
	w.users = testident.NewCA(t, identity.UserCA, "example.test", identity.Options{})
	w.alice = testident.IssueUser(t, "alice", "example.test", w.users)
	w.h = dnstest.Start(t, dnstest.Config{Records: []string{
		fullLine(t, nFull, w.full.Key.Public()),
		fullLine(t, nEd, w.ed.Key.Public()),
		fullLine(t, nRSA, w.rsa.Key.Public()),
		fullLine(t, nES384, w.es384.Key.Public()),
		testident.EELine(t, nDigest, w.digest.Key.Public()),
		certLine(t, nCert, w.cert.Cert),
		testident.TALine(t, nIssued, w.org.Cert),
		testident.TALine(t, nUsers, w.users.Cert),
		// A revoked name: the marker stands beside the old key's record.
		fullLine(t, nRevoked, w.full.Key.Public()),
		nRevoked + ". 300 IN TLSA " + tlsa.RevocationMarker,
	}})
	r := testident.Resolver(t, w.h, resolver.Config{})
	allow, err := verify.ParseAllowList([]string{"*._device.example.test", nUsers})
	if err != nil {
		t.Fatal(err)
	}
	w.core, err = verify.New(verify.Config{Allow: allow, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) verifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	cfg.Core = w.core
	if cfg.Time == nil {
		cfg.Time = w.clock.Now
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (w *world) signer(name string, c testident.Cred, carry bool) *Signer {
	s := &Signer{Name: name, Key: c.Key, Time: w.clock.Now}
	if carry {
		s.Chain = []*x509.Certificate{c.Cert}
	}
	return s
}

func mustSign(t testing.TB, s *Signer, payload []byte, f Format) []byte {
	t.Helper()
	m, err := s.Sign(payload, f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var ctx = context.Background()
