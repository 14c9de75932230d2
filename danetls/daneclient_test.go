package danetls

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
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

// tlsServer is a raw TLS server on 127.0.0.1 that greets each client
// whose handshake completes, and remembers the SNI each sent.
type tlsServer struct {
	ln   net.Listener
	port uint16
	mu   sync.Mutex
	sni  []string
	ids  []string // client identities authenticated (ServerConfig servers)
}

// startTLSServer serves chain and key; with v set it authenticates its
// clients by DANE too (ServerConfig). It stops when the test ends.
func startTLSServer(t testing.TB, key crypto.Signer, chain []*x509.Certificate, v verify.Verifier) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	cfg := &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		s.mu.Lock()
		s.sni = append(s.sni, hello.ServerName)
		s.mu.Unlock()
		return &cert, nil
	}}
	if v != nil {
		cfg = ServerConfig(cfg, v)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				if id, ok := IdentityFromConn(tc); ok {
					s.mu.Lock()
					s.ids = append(s.ids, id.Name)
					s.mu.Unlock()
				}
				tc.Write([]byte("hello\n"))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

func (s *tlsServer) addr() string { return s.ln.Addr().String() }

func (s *tlsServer) seen() (sni, ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sni...), append([]string(nil), s.ids...)
}

// talk dials addr with cfg and reads the server's greeting: an error
// means the handshake failed on either side.
func talk(addr string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "hello\n" {
		return errors.New("unexpected greeting " + line)
	}
	return nil
}

// issueServer issues a server certificate for names from ca (a
// self-signed one when ca is the zero Issuer), valid from notBefore for d.
func issueServer(t testing.TB, ca identity.Issuer, names []string, notBefore time.Time, d time.Duration) testident.Cred {
	t.Helper()
	k := testident.Key(t, identity.KeyECDSAP256)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(d),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, k
	if ca.Cert != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testident.Cred{Key: k, Cert: c}
}

func tlsaLine(t testing.TB, owner string, c *x509.Certificate, u tlsa.Usage, s tlsa.Selector, m tlsa.MatchingType) string {
	t.Helper()
	r, err := tlsa.ForCertificate(c, u, s, m)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

func service(host string, port uint16) string {
	return "_" + itoa(port) + "._tcp." + host + "."
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// TestDANEClientConfig authenticates TLS servers by their TLSA records
// through crypto/tls, against the signed in-process hierarchy: DANE-EE
// and DANE-TA, the name rules of each, SNI, and what happens when DANE
// does not apply (refused, or PKIX when allowed).
func TestDANEClientConfig(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	// A self-signed server whose certificate names another host: DANE-EE
	// ignores names (RFC 7671 §5.1).
	self := issueServer(t, identity.Issuer{}, []string{"elsewhere.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	// The attacker: the right name, its own key.
	impostor := issueServer(t, identity.Issuer{}, []string{"ee.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	// The attacker with a certificate for the name from a CA the client
	// trusts for PKIX: the TLSA records still decide.
	caImpostor := issueServer(t, ca, []string{"ee.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	taLeaf := issueServer(t, ca, []string{"ta.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	misnamed := issueServer(t, ca, []string{"other.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	expiredSelf := issueServer(t, identity.Issuer{}, []string{"old.example.test"}, now.Add(-48*time.Hour), 24*time.Hour)
	insecureLeaf := issueServer(t, ca, []string{"www.insecure.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	pkixLeaf := issueServer(t, ca, []string{"nodane.example.test", "unusable.example.test"}, now.Add(-time.Hour), 24*time.Hour)

	sSelf := startTLSServer(t, self.Key, []*x509.Certificate{self.Cert}, nil)
	sImpostor := startTLSServer(t, impostor.Key, []*x509.Certificate{impostor.Cert}, nil)
	sCAImpostor := startTLSServer(t, caImpostor.Key, []*x509.Certificate{caImpostor.Cert, ca.Cert}, nil)
	sTA := startTLSServer(t, taLeaf.Key, []*x509.Certificate{taLeaf.Cert, ca.Cert}, nil)
	sTALeafOnly := startTLSServer(t, taLeaf.Key, []*x509.Certificate{taLeaf.Cert}, nil)
	sMisnamed := startTLSServer(t, misnamed.Key, []*x509.Certificate{misnamed.Cert, ca.Cert}, nil)
	sExpired := startTLSServer(t, expiredSelf.Key, []*x509.Certificate{expiredSelf.Cert}, nil)
	sInsecure := startTLSServer(t, insecureLeaf.Key, []*x509.Certificate{insecureLeaf.Cert, ca.Cert}, nil)
	sPKIX := startTLSServer(t, pkixLeaf.Key, []*x509.Certificate{pkixLeaf.Cert, ca.Cert}, nil)

	ee := func(s *tlsServer, host string, c *x509.Certificate) string {
		return tlsaLine(t, service(host, s.port), c, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	}
	ta := func(s *tlsServer, host string) string {
		return tlsaLine(t, service(host, s.port), ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		ee(sSelf, "ee.example.test", self.Cert),
		// The impostor's port publishes the genuine server's key.
		ee(sImpostor, "ee.example.test", self.Cert),
		ee(sCAImpostor, "ee.example.test", self.Cert),
		ee(sExpired, "old.example.test", expiredSelf.Cert),
		ta(sTA, "ta.example.test"),
		ta(sTALeafOnly, "ta.example.test"),
		ta(sMisnamed, "ta.example.test"),
		// DANE-EE at the misnamed server: its name does not matter.
		ee(sMisnamed, "ee-named-other.example.test", misnamed.Cert),
		ee(sInsecure, "www.insecure.example.test", insecureLeaf.Cert),
		// A record for another port of the same host.
		tlsaLine(t, service("ee2.example.test", sSelf.port+1), self.Cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256),
		// Only an unusable record (matching type 9 is unassigned).
		service("unusable.example.test", sPKIX.port) + " 300 IN TLSA 3 1 9 00",
	}})
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	caPool := x509.NewCertPool()
	caPool.AddCert(ca.Cert)

	tests := []struct {
		name     string
		srv      *tlsServer
		host     string
		opts     []ClientOption
		reason   verify.Reason // 0: authenticated
		usage    tlsa.Usage    // for DANE
		pkix     bool          // authenticated by PKIX after a fallback
		fallback verify.Reason // why DANE did not apply, with pkix
	}{
		{name: "dane-ee self-signed", srv: sSelf, host: "ee.example.test", usage: tlsa.DANEEE},
		{name: "dane-ee name in the certificate ignored", srv: sMisnamed, host: "ee-named-other.example.test", usage: tlsa.DANEEE},
		{name: "dane-ee expired certificate", srv: sExpired, host: "old.example.test", usage: tlsa.DANEEE},
		{name: "right name, different key", srv: sImpostor, host: "ee.example.test", reason: verify.ReasonNoMatch},
		{name: "right name, different key, valid for pkix", srv: sCAImpostor, host: "ee.example.test", opts: []ClientOption{PKIXFallback(caPool)}, reason: verify.ReasonNoMatch},
		{name: "record of another port", srv: sSelf, host: "ee2.example.test", reason: verify.ReasonNoRecord},
		{name: "dane-ta chain", srv: sTA, host: "ta.example.test", usage: tlsa.DANETA},
		{name: "dane-ta without the ca sent", srv: sTALeafOnly, host: "ta.example.test", reason: verify.ReasonNoMatch},
		{name: "dane-ta name mismatch", srv: sMisnamed, host: "ta.example.test", reason: verify.ReasonNameMismatch},
		{name: "insecure, no fallback", srv: sInsecure, host: "www.insecure.example.test", reason: verify.ReasonDNSInsecure},
		{name: "insecure, pkix fallback", srv: sInsecure, host: "www.insecure.example.test", opts: []ClientOption{PKIXFallback(caPool)}, pkix: true, fallback: verify.ReasonDNSInsecure},
		{name: "insecure, pkix fallback, untrusted", srv: sInsecure, host: "www.insecure.example.test", opts: []ClientOption{PKIXFallback(x509.NewCertPool())}, reason: verify.ReasonDNSInsecure},
		{name: "no record, no fallback", srv: sPKIX, host: "nodane.example.test", reason: verify.ReasonNoRecord},
		{name: "no record, pkix fallback", srv: sPKIX, host: "nodane.example.test", opts: []ClientOption{PKIXFallback(caPool)}, pkix: true, fallback: verify.ReasonNoRecord},
		{name: "no record, pkix fallback, wrong name", srv: sTA, host: "nodane.example.test", opts: []ClientOption{PKIXFallback(caPool)}, reason: verify.ReasonNoRecord},
		{name: "unusable records, no fallback", srv: sPKIX, host: "unusable.example.test", reason: verify.ReasonNoUsableRecords},
		{name: "unusable records, pkix fallback", srv: sPKIX, host: "unusable.example.test", opts: []ClientOption{PKIXFallback(caPool)}, pkix: true, fallback: verify.ReasonNoUsableRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reports []ServerAuth
			var mu sync.Mutex
			opts := append(tc.opts, ReportServerAuth(func(a ServerAuth) {
				mu.Lock()
				reports = append(reports, a)
				mu.Unlock()
			}))
			cfg, err := DANEClientConfig(nil, core, net.JoinHostPort(tc.host, itoa(tc.srv.port)), opts...)
			if err != nil {
				t.Fatal(err)
			}
			sniBefore, _ := tc.srv.seen()
			err = talk(tc.srv.addr(), cfg)
			mu.Lock()
			defer mu.Unlock()
			if tc.reason != 0 {
				if err == nil {
					t.Fatalf("server authenticated (%+v), want %s", reports, tc.reason)
				}
				if got := verify.ReasonOf(err); got != tc.reason {
					t.Fatalf("reason %s (%v), want %s", got, err, tc.reason)
				}
				if len(reports) != 0 {
					t.Errorf("refused server reported as authenticated: %+v", reports)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1", len(reports))
			}
			a := reports[0]
			if a.Host != tc.host || a.Port != tc.srv.port || a.PKIX != tc.pkix {
				t.Errorf("report %+v, want host %s port %d pkix %v", a, tc.host, tc.srv.port, tc.pkix)
			}
			if tc.pkix {
				if a.Identity != nil || verify.ReasonOf(a.DANEError) != tc.fallback {
					t.Errorf("fallback report %+v, want no identity and DANE error %s", a, tc.fallback)
				}
			} else if a.Identity == nil || a.Identity.Record.Usage != tc.usage || a.Identity.Name != tc.host || a.DANEError != nil {
				t.Errorf("DANE report %+v, want usage %s for %s", a, tc.usage, tc.host)
			}
			// SNI is the name looked up (RFC 7671 §3).
			sni, _ := tc.srv.seen()
			if got := sni[len(sniBefore):]; len(got) != 1 || got[0] != tc.host {
				t.Errorf("server saw SNI %q, want [%s]", got, tc.host)
			}
		})
	}
}

// TestDANEClientConfigBogus: with the signatures stripped on the way to
// the client (a downgrade attempt), the records are bogus and the server
// is refused, even with a PKIX fallback that would accept its certificate.
func TestDANEClientConfigBogus(t *testing.T) {
	t.Parallel()
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	leaf := issueServer(t, ca, []string{"srv.example.test"}, time.Now().Add(-time.Hour), 24*time.Hour)
	srv := startTLSServer(t, leaf.Key, []*x509.Certificate{leaf.Cert, ca.Cert}, nil)
	h := dnstest.Start(t, dnstest.Config{
		Zones:   map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.StripSignatures}},
		Records: []string{tlsaLine(t, service("srv.example.test", srv.port), leaf.Cert, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)},
	})
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, opts := range [][]ClientOption{nil, {PKIXFallback(pool)}} {
		cfg, err := DANEClientConfig(nil, core, net.JoinHostPort("srv.example.test", itoa(srv.port)), opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = talk(srv.addr(), cfg)
		if got := verify.ReasonOf(err); got != verify.ReasonDNSBogus {
			t.Errorf("with %d options: %v (reason %s), want dns-bogus", len(opts), err, got)
		}
	}
}

// TestDANEClientConfigArguments: bad addresses and a ServerName other
// than the name looked up are refused when the configuration is made.
func TestDANEClientConfigArguments(t *testing.T) {
	t.Parallel()
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, dnstest.Start(t, dnstest.Config{}), resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base *tls.Config
		addr string
		ok   bool
	}{
		{nil, "srv.example.test:443", true},
		{&tls.Config{ServerName: "SRV.example.test."}, "srv.example.test:443", true},
		{&tls.Config{ServerName: "other.example.test"}, "srv.example.test:443", false},
		{nil, "srv.example.test", false},
		{nil, "srv.example.test:0", false},
		{nil, "srv.example.test:65536", false},
		{nil, "srv.example.test:https", false},
		{nil, "127.0.0.1:443", false},
		{nil, "_443._tcp.srv.example.test:443", false},
	} {
		cfg, err := DANEClientConfig(tc.base, core, tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("DANEClientConfig(%+v, %q): %v, want ok=%v", tc.base, tc.addr, err, tc.ok)
			continue
		}
		if err == nil && (cfg.ServerName != "srv.example.test" || cfg.VerifyConnection == nil || cfg.MinVersion < tls.VersionTLS12) {
			t.Errorf("DANEClientConfig(%q): ServerName %q, MinVersion %x", tc.addr, cfg.ServerName, cfg.MinVersion)
		}
	}
	if _, err := DANEClientConfig(nil, nil, "srv.example.test:443"); err == nil {
		t.Error("nil verifier accepted")
	}
	// Changing the SNI after the fact does not get past the check.
	cfg, err := DANEClientConfig(nil, core, "srv.example.test:443")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{ServerName: "evil.example.test"}); err == nil || !strings.Contains(err.Error(), "SNI") {
		t.Errorf("another SNI: %v", err)
	}
}

// TestMutualDANE: two self-signed peers, a LoRaWAN network server (the
// client) and a join server, authenticate each other by name alone: the
// join server authenticates the client by the TLSA record at its name,
// the client the join server by the record at _port._tcp.js.example.test.
// The second connection resumes its session and is checked again.
func TestMutualDANE(t *testing.T) {
	t.Parallel()
	js := testident.SelfSigned(t, "js.example.test", identity.KeyEd25519)
	ns := selfSigned(t, "ns.example.test", identity.KeyECDSAP256)
	stranger := selfSigned(t, "ns.example.test", identity.KeyECDSAP256) // right name, unpublished key

	// The join server needs its port before the records can name it: its
	// verifier is filled in once the hierarchy runs.
	jsVerifier := &lateVerifier{}
	srv := startTLSServer(t, js.Key, []*x509.Certificate{js.Cert}, jsVerifier)
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "ns.example.test", ns.key.Public()),
		testident.EELine(t, strings.TrimSuffix(service("js.example.test", srv.port), "."), js.Key.Public()),
	}})
	jsCore, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{}), Allow: mustAllowList(t, "ns.example.test")})
	if err != nil {
		t.Fatal(err)
	}
	jsVerifier.set(jsCore)
	nsCore, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}

	client := func(id ident) (*tls.Config, *[]ServerAuth) {
		cert, err := LoadIdentity(id.dir)
		if err != nil {
			t.Fatal(err)
		}
		var reports []ServerAuth
		var mu sync.Mutex
		cfg, err := DANEClientConfig(ClientConfig(&tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(4)}, cert),
			nsCore, net.JoinHostPort("js.example.test", itoa(srv.port)),
			ReportServerAuth(func(a ServerAuth) { mu.Lock(); reports = append(reports, a); mu.Unlock() }))
		if err != nil {
			t.Fatal(err)
		}
		return cfg, &reports
	}
	cfg, reports := client(ns)
	resumed := false
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", srv.addr())
		cancel()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		resumed = resumed || c.(*tls.Conn).ConnectionState().DidResume
		c.Close()
		if err != nil || line != "hello\n" {
			t.Fatalf("connection %d: %q, %v", i, line, err)
		}
	}
	_, ids := srv.seen()
	if len(ids) != 2 || ids[0] != "ns.example.test" || ids[1] != "ns.example.test" {
		t.Errorf("join server authenticated %q, want ns.example.test twice", ids)
	}
	if len(*reports) != 2 || (*reports)[0].Identity == nil || (*reports)[0].Identity.Record.Usage != tlsa.DANEEE {
		t.Errorf("network server's reports %+v, want two DANE-EE", *reports)
	}
	if !resumed {
		t.Error("the second connection did not resume: the check on resumption is not exercised")
	}

	// A client with the right name and another key is refused by the
	// join server (the client learns it when reading).
	cfg, _ = client(stranger)
	if err := talk(srv.addr(), cfg); err == nil {
		t.Error("the join server accepted an unpublished client key")
	}
}

// lateVerifier is a verifier set after the server starts.
type lateVerifier struct {
	mu sync.Mutex
	v  verify.Verifier
}

func (l *lateVerifier) set(v verify.Verifier) { l.mu.Lock(); l.v = v; l.mu.Unlock() }

func (l *lateVerifier) Verify(ctx context.Context, name string, p verify.Presented) (*verify.Identity, error) {
	l.mu.Lock()
	v := l.v
	l.mu.Unlock()
	if v == nil {
		return nil, errors.New("no verifier yet")
	}
	return v.Verify(ctx, name, p)
}

func mustAllowList(t testing.TB, patterns ...string) *verify.AllowList {
	t.Helper()
	a, err := verify.ParseAllowList(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
