package danetls

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/tlsa"
	"github.com/dnsbound/dance/verify"
)

// startRawKeyServer is a tls13 server on 127.0.0.1 that presents key as a
// raw public key (RFC 7250) and greets each client whose handshake
// completes. It stops when the test ends.
func startRawKeyServer(t testing.TB, key crypto.Signer) (string, uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls13.Config{Certificates: []tls13.Certificate{{PrivateKey: key}}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer raw.Close()
				raw.SetDeadline(time.Now().Add(30 * time.Second))
				c := tls13.Server(raw, cfg)
				if c.HandshakeContext(context.Background()) == nil {
					c.Write([]byte("hello\n"))
					c.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), uint16(ln.Addr().(*net.TCPAddr).Port)
}

// talk13 dials addr with the tls13 engine and reads the greeting.
func talk13(addr string, cfg *tls13.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	c := tls13.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "hello\n" {
		return errors.New("unexpected greeting " + line)
	}
	return nil
}

// TestDANEClientConfigTLS13 authenticates TLS servers by their TLSA
// records through the tls13 engine, with the same check as crypto/tls
// clients: DANE-EE (certificate or raw key) and DANE-TA pass, another key
// under the right name is refused with handshake_failure, and so is a
// server whose name has no record.
func TestDANEClientConfigTLS13(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := testident.NewCA(t, identity.OrgCA, "example.test", identity.Options{})
	self := issueServer(t, identity.Issuer{}, []string{"elsewhere.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	impostor := issueServer(t, identity.Issuer{}, []string{"ee.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	taLeaf := issueServer(t, ca, []string{"ta.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	misnamed := issueServer(t, ca, []string{"other.example.test"}, now.Add(-time.Hour), 24*time.Hour)
	rawKey := testident.Key(t, identity.KeyEd25519)
	otherRawKey := testident.Key(t, identity.KeyEd25519)

	sSelf := startTLSServer(t, self.Key, []*x509.Certificate{self.Cert}, nil)
	sImpostor := startTLSServer(t, impostor.Key, []*x509.Certificate{impostor.Cert}, nil)
	sTA := startTLSServer(t, taLeaf.Key, []*x509.Certificate{taLeaf.Cert, ca.Cert}, nil)
	sMisnamed := startTLSServer(t, misnamed.Key, []*x509.Certificate{misnamed.Cert, ca.Cert}, nil)
	rawAddr, rawPort := startRawKeyServer(t, rawKey)
	wrongRawAddr, wrongRawPort := startRawKeyServer(t, otherRawKey)

	ee := func(port uint16, host string, c *x509.Certificate) string {
		return tlsaLine(t, service(host, port), c, tlsa.DANEEE, tlsa.SelectorSPKI, tlsa.MatchSHA256)
	}
	eeKey := func(port uint16, host string, pub crypto.PublicKey) string {
		r, err := tlsa.ForPublicKey(pub, tlsa.DANEEE, tlsa.MatchSHA256)
		if err != nil {
			t.Fatal(err)
		}
		return r.ZoneLine(service(host, port), 300)
	}
	ta := func(port uint16, host string) string {
		return tlsaLine(t, service(host, port), ca.Cert, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	}
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		ee(sSelf.port, "ee.example.test", self.Cert),
		ee(sImpostor.port, "ee.example.test", self.Cert),
		ta(sTA.port, "ta.example.test"),
		ta(sMisnamed.port, "ta.example.test"),
		eeKey(rawPort, "raw.example.test", rawKey.Public()),
		eeKey(wrongRawPort, "raw.example.test", rawKey.Public()),
	}})
	core, err := verify.New(verify.Config{Resolver: testident.Resolver(t, h, resolver.Config{})})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		addr   string
		port   uint16
		host   string
		raw    bool
		reason verify.Reason // 0: authenticated
		usage  tlsa.Usage
		opts   []ClientOption
	}{
		{name: "dane-ee self-signed", addr: sSelf.addr(), port: sSelf.port, host: "ee.example.test", usage: tlsa.DANEEE},
		{name: "dane-ta chain", addr: sTA.addr(), port: sTA.port, host: "ta.example.test", usage: tlsa.DANETA},
		{name: "dane-ee raw public key", addr: rawAddr, port: rawPort, host: "raw.example.test", raw: true, usage: tlsa.DANEEE},
		{name: "right name, different key", addr: sImpostor.addr(), port: sImpostor.port, host: "ee.example.test", reason: verify.ReasonNoMatch},
		{name: "right name, different raw key", addr: wrongRawAddr, port: wrongRawPort, host: "raw.example.test", raw: true, reason: verify.ReasonNoMatch},
		{name: "dane-ta name mismatch", addr: sMisnamed.addr(), port: sMisnamed.port, host: "ta.example.test", reason: verify.ReasonNameMismatch},
		{name: "no record", addr: sSelf.addr(), port: sSelf.port, host: "nodane.example.test", reason: verify.ReasonNoRecord},
		// PKIX cannot authenticate a raw public key: the fallback must
		// not accept one, whatever the roots.
		{name: "no record, raw key, pkix fallback", addr: rawAddr, port: rawPort, host: "nodane.example.test", raw: true, reason: verify.ReasonNoRecord,
			opts: []ClientOption{PKIXFallback(x509.NewCertPool())}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []ServerAuth
			var mu sync.Mutex
			report := ReportServerAuth(func(a ServerAuth) { mu.Lock(); got = append(got, a); mu.Unlock() })
			base := &tls13.Config{AcceptRawPublicKeys: tc.raw}
			cfg, err := DANEClientConfigTLS13(base, core, net.JoinHostPort(tc.host, itoa(tc.port)), append(tc.opts, report)...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ServerName != tc.host {
				t.Errorf("ServerName = %q, want %q", cfg.ServerName, tc.host)
			}
			err = talk13(tc.addr, cfg)
			mu.Lock()
			defer mu.Unlock()
			if tc.reason != 0 {
				if err == nil {
					t.Fatalf("authenticated, want refused for %s", tc.reason)
				}
				if r := verify.ReasonOf(err); r != tc.reason {
					t.Errorf("reason %s, want %s (%v)", r, tc.reason, err)
				}
				if !strings.Contains(err.Error(), "handshake_failure") && !strings.Contains(err.Error(), "handshake failure") {
					t.Errorf("refusal %v is not a handshake_failure", err)
				}
				if len(got) != 0 {
					t.Errorf("reported %+v for a refused server", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Identity == nil || got[0].Identity.Record.Usage != tc.usage || got[0].Host != tc.host || got[0].Port != tc.port {
				t.Fatalf("reported %+v, want one DANE authentication by %s of %s:%d", got, tc.usage, tc.host, tc.port)
			}
		})
	}

	if _, err := DANEClientConfigTLS13(&tls13.Config{ServerName: "other.example.test"}, core, "ee.example.test:443"); err == nil {
		t.Error("a ServerName other than the service's host was accepted")
	}
	if _, err := DANEClientConfigTLS13(nil, nil, "ee.example.test:443"); err == nil {
		t.Error("no verifier was accepted")
	}
}
