package tls13

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// selfSigned returns a credential whose chain is one self-signed
// certificate for name, and its issuer (its own subject).
func selfSigned(t *testing.T, name string) (Certificate, []byte) {
	t.Helper()
	k := mustKey(t, "ecdsa")
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der := issue(t, tmpl, tmpl, k.Public(), k)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Certificate{Chain: [][]byte{der}, PrivateKey: k}, c.RawIssuer
}

// TestMatchIssuersServer: a server credential with MatchIssuers goes only
// to a client whose certificate_authorities lists an issuer of its chain;
// the others stay eligible, and with none left the server refuses with
// handshake_failure.
func TestMatchIssuersServer(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	gated := func() Certificate {
		c := ourServerConfig(p).Certificates[0]
		c.MatchIssuers = true
		return c
	}
	other, otherName := selfSigned(t, "server.test")
	rawGated := Certificate{PrivateKey: mustKey(t, "ecdsa"), MatchIssuers: true}
	cases := map[string]struct {
		certs    []Certificate
		cas      [][]byte // the client's certificate_authorities; nil: none sent
		rawOK    bool     // the client accepts raw keys
		want     []byte   // the end-entity certificate sent; nil: refused
		wantRefu alert.Description
	}{
		"listed, first":        {certs: []Certificate{gated(), other}, cas: [][]byte{ca.RawSubject}, want: p.server.Certificate[0]},
		"listed, second":       {certs: []Certificate{other, gated()}, cas: [][]byte{ca.RawSubject}, want: other.Chain[0]},
		"not listed, fallback": {certs: []Certificate{gated(), other}, cas: [][]byte{otherName}, want: other.Chain[0]},
		"no names, fallback":   {certs: []Certificate{gated(), other}, want: other.Chain[0]},
		"none left":            {certs: []Certificate{gated()}, cas: [][]byte{otherName}, wantRefu: alert.HandshakeFailure},
		"no names, none left":  {certs: []Certificate{gated()}, wantRefu: alert.HandshakeFailure},
		"raw key never":        {certs: []Certificate{rawGated, other}, cas: [][]byte{ca.RawSubject, otherName}, rawOK: true, want: other.Chain[0]},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := &Config{Certificates: tc.certs}
			addr, res := startOurServer(t, scfg)
			ccfg := &Config{ServerName: "server.test", VerifyPeer: func([]*x509.Certificate) error { return nil },
				editHello: func(m *wire.ClientHello) {
					if tc.cas != nil {
						m.Extensions = append(m.Extensions, wire.NewCertificateAuthoritiesExtension(tc.cas))
					}
				}}
			if tc.rawOK {
				ccfg.PeerCertificateTypes = []CertificateType{CertificateTypeRawPublicKey, CertificateTypeX509}
				ccfg.VerifyConnection = func(context.Context, ConnectionState) error { return nil }
			}
			c := dial(t, addr, ccfg)
			cerr := c.HandshakeContext(context.Background())
			if tc.want == nil {
				r := <-res
				if d, ok := alert.Of(r.err); !ok || d != tc.wantRefu || cerr == nil {
					t.Fatalf("server error %v, client %v; want %v", r.err, cerr, tc.wantRefu)
				}
				return
			}
			if cerr != nil {
				t.Fatal(cerr)
			}
			c.Close()
			<-res
			st := c.ConnectionState()
			if len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, tc.want) {
				t.Fatalf("server sent %d certificates, not the one expected", len(st.PeerCertificates))
			}
		})
	}
}

// TestMatchIssuersClient: a client credential with MatchIssuers answers
// only a CertificateRequest whose certificate_authorities lists its
// issuer; else the next credential, or an empty Certificate.
func TestMatchIssuersClient(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	gated := p.clients["ecdsa"]
	gated.MatchIssuers = true
	other, otherName := selfSigned(t, "client.test")
	cases := map[string]struct {
		certs []Certificate
		names [][]byte // the server's ClientCANames
		want  []byte   // the certificate the server gets; nil: none
	}{
		"listed":          {certs: []Certificate{gated, other}, names: [][]byte{ca.RawSubject}, want: gated.Chain[0]},
		"not listed":      {certs: []Certificate{gated, other}, names: [][]byte{otherName}, want: other.Chain[0]},
		"no names":        {certs: []Certificate{gated, other}, want: other.Chain[0]},
		"none, no names":  {certs: []Certificate{gated}},
		"none, not found": {certs: []Certificate{gated}, names: [][]byte{otherName}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scfg := ourServerConfig(p)
			scfg.ClientAuth = RequestClientCert
			scfg.ClientCANames = tc.names
			scfg.VerifyPeer = func([]*x509.Certificate) error { return nil }
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: tc.certs})
			echo(t, c, "issuers")
			c.Close()
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			var got []byte
			if len(r.state.PeerCertificates) > 0 {
				got = r.state.PeerCertificates[0].Raw
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("server got %d certificates, not the one expected", len(r.state.PeerCertificates))
			}
		})
	}
}
