package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// TestMain fails the package's tests if any goroutine they started is
// still running when they end: Close waits for every connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Users and domains of the tests, in the in-process hierarchy.
const (
	domain        = "example.test"         // served; its user CA published at _user.example.test
	domainRevoked = "revoked.example.test" // served; _user holds the revocation marker
	domainUnpub   = "unpub.example.test"   // served; nothing published
	domainOther   = "other.example.test"   // published, not served
)

const testLDIF = `version: 1

# the users
dn: dc=example,dc=test
objectClass: domain
dc: example

dn: uid=alice,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.test

dn: uid=bob,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
description:: w6lsw6h2ZQ==
`

// user is a credential written as "dance id new" writes it: the leaf and
// its CA in cert.pem.
type user struct {
	dir  string
	cert tls.Certificate
}

func (u user) certFile() string { return filepath.Join(u.dir, testident.CertFile) }
func (u user) keyFile() string  { return filepath.Join(u.dir, testident.KeyFile) }

func newUser(t testing.TB, uid, dom string, ca identity.Issuer) user {
	t.Helper()
	cred := testident.IssueUser(t, uid, dom, ca)
	dir := testident.Write(t, cred.Key, cred.Cert, ca.Cert)
	cert, err := danetls.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	return user{dir: dir, cert: cert}
}

// env is a server whose users are authenticated against the in-process
// hierarchy.
type env struct {
	srv      *Server
	addr     string // LDAP over TLS
	plain    string // LDAP with StartTLS
	reg      *prometheus.Registry
	h        *dnstest.Hierarchy
	caFile   string // the server's certificate, for clients
	pool     *x509.CertPool
	users    map[string]user
	clock    *fakeClock
	logs     *syncBuffer
	resolver *resolver.Resolver
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Names of env.users.
const (
	uAlice    = "alice"    // alice@example.test, from the published CA
	uBob      = "bob"      // bob@example.test, from the published CA
	uCarol    = "carol"    // carol@example.test: in no directory entry
	uMallory  = "mallory"  // alice@example.test from an unpublished CA
	uRevoked  = "revoked"  // dave@revoked.example.test
	uUnpub    = "unpub"    // erin@unpub.example.test
	uOther    = "other"    // frank@other.example.test: domain not served
	uDevice   = "device"   // a device certificate, not a user
	uTwoUsers = "twousers" // a certificate naming no single user
)

func startEnv(t testing.TB, tune func(*Config)) *env {
	t.Helper()
	e := &env{users: map[string]user{}, reg: prometheus.NewRegistry(), clock: &fakeClock{t: time.Now()}, logs: &syncBuffer{}}
	ca := testident.NewCA(t, identity.UserCA, domain, identity.Options{})
	rogue := testident.NewCA(t, identity.UserCA, domain, identity.Options{})
	caRev := testident.NewCA(t, identity.UserCA, domainRevoked, identity.Options{})
	caUnpub := testident.NewCA(t, identity.UserCA, domainUnpub, identity.Options{})
	caOther := testident.NewCA(t, identity.UserCA, domainOther, identity.Options{})
	e.users[uAlice] = newUser(t, "Alice", domain, ca)
	e.users[uBob] = newUser(t, "bob", domain, ca)
	e.users[uCarol] = newUser(t, "carol", domain, ca)
	e.users[uMallory] = newUser(t, "alice", domain, rogue)
	e.users[uRevoked] = newUser(t, "dave", domainRevoked, caRev)
	e.users[uUnpub] = newUser(t, "erin", domainUnpub, caUnpub)
	e.users[uOther] = newUser(t, "frank", domainOther, caOther)
	dev := testident.SelfSigned(t, "laptop._device.example.test", identity.KeyECDSAP256)
	devDir := testident.Write(t, dev.Key, dev.Cert)
	devCert, err := danetls.LoadIdentity(devDir)
	if err != nil {
		t.Fatal(err)
	}
	e.users[uDevice] = user{dir: devDir, cert: devCert}
	recs := []string{
		testident.TALine(t, "_user."+domain, ca.Cert),
		testident.TALine(t, "_user."+domainOther, caOther.Cert),
		"_user." + domainRevoked + ". 300 IN TLSA " + tlsa.RevocationMarker,
		testident.EELine(t, "laptop._device.example.test", dev.Key.Public()),
	}
	e.h = dnstest.Start(t, dnstest.Config{Records: recs})
	e.resolver = testident.Resolver(t, e.h, resolver.Config{})
	doms := []Domain{{Name: domain}, {Name: domainRevoked}, {Name: domainUnpub}}
	al, err := AllowList(doms)
	if err != nil {
		t.Fatal(err)
	}
	core, err := verify.New(verify.Config{Resolver: e.resolver, Allow: al, Registerer: e.reg, Time: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := ParseLDIF(strings.NewReader(testLDIF))
	if err != nil {
		t.Fatal(err)
	}
	cert, pool := testident.ServerCert(t)
	e.pool = pool
	e.caFile = filepath.Join(t.TempDir(), "server-ca.pem")
	if err := os.WriteFile(e.caFile, identity.MarshalCertificate(cert.Leaf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Verifier: core, Domains: doms,
		Directory: dir, Registerer: e.reg,
	}
	if tune != nil {
		tune(&cfg)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(e.logs)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.now = e.clock.now
	e.srv = srv
	e.addr = e.listen(t, srv.Serve)
	e.plain = e.listen(t, srv.ServeStartTLS)
	return e
}

func (e *env) listen(t testing.TB, serve func(net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	t.Cleanup(func() {
		e.srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// counter reads a counter of the registry with the given first label
// value.
func (e *env) counter(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
