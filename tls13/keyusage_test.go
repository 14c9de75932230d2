package tls13

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// TestPeerKeyUsage: an end-entity certificate whose keyUsage leaves out
// digitalSignature cannot sign a CertificateVerify (RFC 8446 §4.4.2.2): a
// client refuses such a server certificate and a server such a client
// certificate, with bad_certificate, even when VerifyPeer accepts every
// chain. Without a keyUsage extension, or with digitalSignature, it is
// accepted.
func TestPeerKeyUsage(t *testing.T) {
	acceptAll := func([]*x509.Certificate) error { return nil }
	selfSigned := func(t *testing.T, ku x509.KeyUsage) Certificate {
		k := mustKey(t, "ecdsa")
		now := time.Now()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "peer"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: ku}
		return Certificate{Chain: [][]byte{issue(t, tmpl, tmpl, k.Public(), k)}, PrivateKey: k}
	}
	for _, tc := range []struct {
		name string
		ku   x509.KeyUsage
		ok   bool
	}{
		{"keyEncipherment only", x509.KeyUsageKeyEncipherment, false},
		{"digitalSignature", x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, true},
		{"no keyUsage", 0, true},
	} {
		t.Run("server "+tc.name, func(t *testing.T) {
			addr, res := startOurServer(t, &Config{Certificates: []Certificate{selfSigned(t, tc.ku)}})
			c := dial(t, addr, &Config{VerifyPeer: acceptAll})
			err := c.HandshakeContext(context.Background())
			checkKeyUsageResult(t, err, tc.ok)
			c.Close()
			<-res
		})
		t.Run("client "+tc.name, func(t *testing.T) {
			p := testPKI(t)
			scfg := ourServerConfig(p)
			scfg.ClientAuth, scfg.VerifyPeer = RequireClientCert, acceptAll
			addr, res := startOurServer(t, scfg)
			c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots, Certificates: []Certificate{selfSigned(t, tc.ku)}})
			// The client's own result depends on when the refusal
			// arrives (its flight may meet a closed socket); the
			// server's decides.
			if err := c.HandshakeContext(context.Background()); err != nil && tc.ok {
				t.Fatal(err)
			}
			c.Close()
			checkKeyUsageResult(t, (<-res).err, tc.ok)
		})
	}
}

func checkKeyUsageResult(t *testing.T, err error, ok bool) {
	t.Helper()
	if ok {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var e *alert.Error
	if !errors.As(err, &e) || e.Alert != alert.BadCertificate {
		t.Fatalf("error %v, want a bad_certificate refusal", err)
	}
}
