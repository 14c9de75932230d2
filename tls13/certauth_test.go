package tls13

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// TestGetClientCertificateSeesCAs: crypto/tls's server lists its ClientCAs
// in certificate_authorities (RFC 8446 §4.2.4); our client's
// GetClientCertificate receives the names and its choice is sent; a nil
// choice sends an empty Certificate, which that server refuses.
func TestGetClientCertificateSeesCAs(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	for _, send := range []bool{true, false} {
		scfg := serverConfig(p)
		scfg.ClientAuth = tls.RequireAndVerifyClientCert
		scfg.ClientCAs = p.clientPool
		addr, res := startServer(t, scfg)
		var seen *CertificateRequestInfo
		cfg := &Config{ServerName: "server.test", RootCAs: p.roots,
			GetClientCertificate: func(info *CertificateRequestInfo) (*Certificate, error) {
				seen = info
				if !send {
					return nil, nil
				}
				c := p.clients["ecdsa"]
				return &c, nil
			}}
		c := dial(t, addr, cfg)
		if err := c.HandshakeContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		// In TLS 1.3 the server judges the client's certificate after
		// the client's handshake is over: the echo tells.
		_, werr := c.Write([]byte("x"))
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		r := <-res
		if seen == nil || len(seen.CertificateAuthorities) != 1 || !bytes.Equal(seen.CertificateAuthorities[0], ca.RawSubject) ||
			len(seen.SignatureSchemes) == 0 || seen.Context == nil {
			t.Fatalf("GetClientCertificate saw %+v, want the CA's name", seen)
		}
		if send {
			if werr != nil || rerr != nil || r.err != nil || len(r.state.PeerCertificates) != 1 {
				t.Fatalf("with a certificate: write %v, read %v, server %v", werr, rerr, r.err)
			}
		} else if r.err == nil {
			t.Fatal("crypto/tls accepted a client without a certificate")
		}
	}
}

// TestGetCertificateSeesCAs: our server parses the client's
// certificate_authorities and hands the names to GetCertificate, which
// chooses the credential; a malformed list is refused with decode_error
// before GetCertificate runs, and a GetCertificate error is internal_error.
func TestGetCertificateSeesCAs(t *testing.T) {
	p := testPKI(t)
	ca, err := x509.ParseCertificate(p.caDER)
	if err != nil {
		t.Fatal(err)
	}
	good := wire.NewCertificateAuthoritiesExtension([][]byte{ca.RawSubject})
	cases := map[string]struct {
		ext    wire.Extension
		refuse bool
		want   alert.Description // 0: a ServerHello
	}{
		"names":            {ext: good},
		"empty list":       {ext: wire.Extension{Type: wire.ExtCertificateAuthorities, Data: []byte{0, 0}}, want: alert.DecodeError},
		"trailing data":    {ext: wire.Extension{Type: wire.ExtCertificateAuthorities, Data: append(bytes.Clone(good.Data), 0)}, want: alert.DecodeError},
		"callback refuses": {ext: good, refuse: true, want: alert.InternalError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var seen *ClientHelloInfo
			cfg := &Config{GetCertificate: func(info *ClientHelloInfo) (*Certificate, error) {
				seen = info
				if tc.refuse {
					return nil, errors.New("no credential for these anchors")
				}
				return &Certificate{Chain: p.server.Certificate, PrivateKey: p.serverKey}, nil
			}}
			addr, res := startOurServer(t, cfg)
			c := dialRaw(t, addr)
			h := defaultRawHello()
			h.extra = []wire.Extension{tc.ext}
			if _, err := c.Write(h.marshal(t)); err != nil {
				t.Fatal(err)
			}
			if tc.want != 0 {
				if got, _ := readAlert(t, c); got != tc.want {
					t.Fatalf("alert %v, want %v", got, tc.want)
				}
				if (tc.want == alert.DecodeError) != (seen == nil) {
					t.Fatalf("GetCertificate called: %v", seen != nil)
				}
				<-res
				return
			}
			rec, err := readRawRecord(c)
			if err != nil || record.ContentType(rec[0]) != record.TypeHandshake {
				t.Fatalf("want a ServerHello, got %v", err)
			}
			if seen == nil || len(seen.CertificateAuthorities) != 1 || !bytes.Equal(seen.CertificateAuthorities[0], ca.RawSubject) {
				t.Fatalf("GetCertificate saw %+v", seen)
			}
			c.Close()
			<-res
		})
	}
}
