package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/prometheus/client_golang/prometheus"
)

// serverLeaf issues a server certificate for names from ca, with the
// extended key usages given and a validity from notBefore for d.
func serverLeaf(t *testing.T, ca identity.Issuer, names []string, eku []x509.ExtKeyUsage, notBefore time.Time, d time.Duration) testident.Cred {
	t.Helper()
	k := testident.Key(t, identity.KeyECDSAP256)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(d),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testident.Cred{Key: k, Cert: c}
}

// selfSignedAt makes a self-signed certificate without names, valid from
// notBefore to notAfter.
func selfSignedAt(t *testing.T, notBefore, notAfter time.Time) testident.Cred {
	t.Helper()
	k := testident.Key(t, identity.KeyECDSAP256)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "old"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testident.Cred{Key: k, Cert: c}
}

// TestVerifyServer authenticates TLS servers by the TLSA records at
// _port._tcp.host, against the signed in-process hierarchy.
func TestVerifyServer(t *testing.T) {
	t.Parallel()
	now := time.Now()
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	// A self-signed server whose certificate names some other host:
	// DANE-EE ignores names (RFC 7671 §5.1).
	self := testident.SelfSigned(t, "elsewhere.example.test", identity.KeyECDSAP256)
	other := testident.SelfSigned(t, "ee.example.test", identity.KeyECDSAP256)
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	leaf := serverLeaf(t, ca, []string{"ta.example.test"}, serverAuth, now.Add(-time.Hour), 24*time.Hour)
	misnamed := serverLeaf(t, ca, []string{"other.example.test"}, serverAuth, now.Add(-time.Hour), 24*time.Hour)
	clientOnly := serverLeaf(t, ca, []string{"ta.example.test"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, now.Add(-time.Hour), 24*time.Hour)
	expired := serverLeaf(t, ca, []string{"ta.example.test"}, serverAuth, now.Add(-48*time.Hour), 24*time.Hour)
	expiredSelf := selfSignedAt(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	pkixLeaf := serverLeaf(t, ca, []string{"pkix.example.test"}, serverAuth, now.Add(-time.Hour), 24*time.Hour)
	otherCA := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	pkixEE, err := tlsa.ForCertificate(pkixLeaf.Cert, tlsa.PKIXEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "_443._tcp.ee.example.test", self.Key.Public()),
		testident.EELine(t, "_8443._tcp.ee.example.test", other.Key.Public()),
		testident.EELine(t, "_443._tcp.old.example.test", expiredSelf.Key.Public()),
		testident.TALine(t, "_443._tcp.ta.example.test", ca.Cert),
		testident.TALine(t, "_443._tcp.other.example.test", otherCA.Cert),
		pkixEE.ZoneLine("_443._tcp.pkix.example.test", 300),
		testident.EELine(t, "_443._tcp.www.insecure.example.test", self.Key.Public()),
		testident.EELine(t, "sensor1._device.example.test", self.Key.Public()),
	}})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	// No allow-list: a server's name is the client's own choice.
	core := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	withRoots := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{}), Roots: roots})

	chain := func(cs ...*x509.Certificate) Presented { return Presented{Chain: cs} }
	tests := []struct {
		name      string
		core      *Core
		host      string
		port      uint16
		p         Presented
		reason    Reason // 0: authenticated
		usage     tlsa.Usage
		depth     int
		noQueries bool
	}{
		{name: "dane-ee self-signed, other name in the certificate", host: "ee.example.test", port: 443, p: chain(self.Cert), usage: tlsa.DANEEE},
		{name: "dane-ee raw public key", host: "ee.example.test", port: 443, p: Presented{RawPublicKey: self.SPKI()}, usage: tlsa.DANEEE},
		{name: "dane-ee host case and trailing dot", host: "EE.example.test.", port: 443, p: chain(self.Cert), usage: tlsa.DANEEE},
		{name: "dane-ee expired certificate", host: "old.example.test", port: 443, p: chain(expiredSelf.Cert), usage: tlsa.DANEEE},
		{name: "dane-ee wrong key", host: "ee.example.test", port: 443, p: chain(other.Cert), reason: ReasonNoMatch},
		{name: "dane-ee key of another port", host: "ee.example.test", port: 8443, p: chain(self.Cert), reason: ReasonNoMatch},
		{name: "record for another port only", host: "ee.example.test", port: 4443, p: chain(self.Cert), reason: ReasonNoRecord},
		{name: "dane-ta chain", host: "ta.example.test", port: 443, p: chain(leaf.Cert, ca.Cert), usage: tlsa.DANETA, depth: 1},
		{name: "dane-ta without the ca in the chain", host: "ta.example.test", port: 443, p: chain(leaf.Cert), reason: ReasonNoMatch},
		{name: "dane-ta name mismatch", host: "ta.example.test", port: 443, p: chain(misnamed.Cert, ca.Cert), reason: ReasonNameMismatch},
		{name: "dane-ta client-only key usage", host: "ta.example.test", port: 443, p: chain(clientOnly.Cert, ca.Cert), reason: ReasonUntrusted},
		{name: "dane-ta expired leaf", host: "ta.example.test", port: 443, p: chain(expired.Cert, ca.Cert), reason: ReasonUntrusted},
		{name: "dane-ta another ca", host: "other.example.test", port: 443, p: chain(misnamed.Cert, ca.Cert), reason: ReasonNoMatch},
		{name: "pkix-ee without roots", host: "pkix.example.test", port: 443, p: chain(pkixLeaf.Cert, ca.Cert), reason: ReasonNoUsableRecords},
		{name: "pkix-ee with roots", host: "pkix.example.test", port: 443, core: withRoots, p: chain(pkixLeaf.Cert, ca.Cert), usage: tlsa.PKIXEE},
		{name: "pkix-ee with roots, other key", host: "pkix.example.test", port: 443, core: withRoots, p: chain(leaf.Cert, ca.Cert), reason: ReasonNoMatch},
		{name: "insecure zone", host: "www.insecure.example.test", port: 443, p: chain(self.Cert), reason: ReasonDNSInsecure},
		{name: "no record", host: "none.example.test", port: 443, p: chain(self.Cert), reason: ReasonNoRecord},
		{name: "ip address", host: "127.0.0.1", port: 443, p: chain(self.Cert), reason: ReasonNameSyntax, noQueries: true},
		{name: "underscore host", host: "sensor1._device.example.test", port: 443, p: chain(self.Cert), reason: ReasonNameSyntax, noQueries: true},
		{name: "port 0", host: "ee.example.test", port: 0, p: chain(self.Cert), reason: ReasonNameSyntax, noQueries: true},
		{name: "nothing presented", host: "ee.example.test", port: 443, reason: ReasonNoCredential, noQueries: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.core
			if c == nil {
				c = core
			}
			before := h.Queries()
			id, err := c.VerifyServer(context.Background(), tc.host, tc.port, tc.p)
			if tc.noQueries && h.Queries() != before {
				t.Errorf("%d queries, want none", h.Queries()-before)
			}
			if tc.reason != 0 {
				if err == nil {
					t.Fatalf("authenticated %+v, want %s", id, tc.reason)
				}
				if got := ReasonOf(err); got != tc.reason {
					t.Fatalf("reason %s (%v), want %s", got, err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			host := strings.ToLower(strings.TrimSuffix(tc.host, "."))
			if id.Name != host || id.Kind != identity.KindHost || id.Record.Usage != tc.usage || id.Depth != tc.depth {
				t.Errorf("identity %+v, want %s (host), usage %s, depth %d", id, host, tc.usage, tc.depth)
			}
		})
	}

	// The records of a client identity and of a server never stand in for
	// each other: a device name is no host, and a server's owner name is
	// not a name a client can claim.
	dev := "sensor1._device.example.test"
	if _, err := core.VerifyServer(context.Background(), dev, 443, chain(self.Cert)); ReasonOf(err) != ReasonNameSyntax {
		t.Errorf("a device name as a server: %v, want name-syntax", err)
	}
	clients := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{}), Allow: mustAllow(t, "*.example.test")})
	if _, err := clients.Verify(context.Background(), "_443._tcp.ee.example.test", chain(self.Cert)); ReasonOf(err) != ReasonNameSyntax {
		t.Errorf("a server's owner name claimed by a client: %v, want name-syntax", err)
	}
}

// TestVerifyServerFaults: a TLSA RRset that DNSSEC does not prove never
// authenticates a server. Stripping the signatures of a signed zone (a
// downgrade attempt by the path to the resolver) is bogus, not insecure.
func TestVerifyServerFaults(t *testing.T) {
	t.Parallel()
	srv := testident.SelfSigned(t, "srv.example.test", identity.KeyECDSAP256)
	for _, tc := range []struct {
		name   string
		zones  map[string]dnstest.ZoneOptions
		reason Reason
	}{
		{"stripped", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.StripSignatures}}, ReasonDNSBogus},
		{"wrong-key", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.WrongKey}}, ReasonDNSBogus},
		{"expired-rrsig", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.ExpiredSignatures}}, ReasonDNSBogus},
		{"mismatched-ds", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.MismatchedDS}}, ReasonDNSBogus},
		// An insecure delegation that the parent proves: DANE does not
		// apply.
		{"missing-ds", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.MissingDS}}, ReasonDNSInsecure},
		// The DS removed without the parent's proof of its absence: a
		// downgrade to insecure that cannot be proven is bogus.
		{"ds removed, no proof", map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.MissingDS}, dnstest.TLD: {Fault: dnstest.BrokenDenial}}, ReasonDNSBogus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := dnstest.Start(t, dnstest.Config{
				Zones:   tc.zones,
				Records: []string{testident.EELine(t, "_443._tcp.srv.example.test", srv.Key.Public())},
			})
			core := newCore(t, Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
			id, err := core.VerifyServer(context.Background(), "srv.example.test", 443, Presented{Chain: []*x509.Certificate{srv.Cert}})
			if err == nil {
				t.Fatalf("authenticated %+v through a zone with fault %s", id, tc.name)
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %s (%v), want %s", got, err, tc.reason)
			}
			var ve *Error
			if !errors.As(err, &ve) || ve.Name != "_443._tcp.srv.example.test" {
				t.Errorf("error names %q, want the owner name", ve.Name)
			}
		})
	}
}

func TestServerOwnerName(t *testing.T) {
	for _, tc := range []struct {
		host string
		port uint16
		want string // empty: an error
	}{
		{"JS1.LoRa.example.", 8443, "_8443._tcp.js1.lora.example"},
		{"xn--bcher-kva.example", 443, "_443._tcp.xn--bcher-kva.example"},
		{"localhost", 1, "_1._tcp.localhost"},
		{"192.0.2.1", 443, ""},
		{"::1", 443, ""},
		{"_443._tcp.example", 443, ""},
		{"a..example", 443, ""},
		{"example", 0, ""},
		{strings.Repeat("a.", 121) + "example", 65535, ""}, // fits alone, not with the prefix
	} {
		got, err := ServerOwnerName(tc.host, tc.port)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ServerOwnerName(%q, %d) = %q, want an error", tc.host, tc.port, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ServerOwnerName(%q, %d) = %q, %v; want %q", tc.host, tc.port, got, err, tc.want)
		}
	}
}

// TestVerifyServerMetricsAndLogs: server verdicts are counted with the
// clients', and a refusal is logged with the owner name where the records
// were looked for.
func TestVerifyServerMetricsAndLogs(t *testing.T) {
	t.Parallel()
	srv := testident.SelfSigned(t, "srv.example.test", identity.KeyECDSAP256)
	other := testident.SelfSigned(t, "srv.example.test", identity.KeyECDSAP256)
	h := dnstest.Start(t, dnstest.Config{Records: []string{testident.EELine(t, "_443._tcp.srv.example.test", srv.Key.Public())}})
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	core := newCore(t, Config{
		Resolver:   testident.Resolver(t, h, resolver.Config{}),
		Registerer: reg,
		Logger:     slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	ctx := context.Background()
	if _, err := core.VerifyServer(ctx, "srv.example.test", 443, Presented{Chain: []*x509.Certificate{srv.Cert}}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.VerifyServer(ctx, "srv.example.test", 443, Presented{Chain: []*x509.Certificate{other.Cert}}); err == nil {
		t.Fatal("another key authenticated")
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dance_verify_verdicts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["ok"] != 1 || got["no-match"] != 1 {
		t.Errorf("verdicts %v, want ok 1 and no-match 1", got)
	}
	if !strings.Contains(logs.String(), `"name":"_443._tcp.srv.example.test","reason":"no-match"`) {
		t.Errorf("refusal not logged with the owner name and reason:\n%s", logs.String())
	}
}
