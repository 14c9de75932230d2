package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// recordingVerifier records the name and credential each Verify call got.
type recordingVerifier struct {
	name string
	p    Presented
	n    int
}

func (v *recordingVerifier) Verify(_ context.Context, name string, p Presented) (*Identity, error) {
	v.name, v.p = name, p
	v.n++
	return &Identity{Name: name}, nil
}

// TestVerifyClaimed: the name a TLS client claimed in dane_clientid is the
// one verified; without one the certificate names the client; a raw key
// without a name is refused before any lookup.
func TestVerifyClaimed(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		DNSNames: []string{"cert1._device.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	chain := []*x509.Certificate{cert}
	cases := map[string]struct {
		claimed  string
		p        Presented
		wantName string // "": refused without a call
		reason   Reason
	}{
		"claimed name with a certificate":  {claimed: "other._device.example.com", p: Presented{Chain: chain}, wantName: "other._device.example.com"},
		"no name: the certificate's":       {p: Presented{Chain: chain}, wantName: "cert1._device.example.com"},
		"claimed name with a raw key":      {claimed: "meter._device.example.com", p: Presented{RawPublicKey: spki}, wantName: "meter._device.example.com"},
		"raw key without a name":           {p: Presented{RawPublicKey: spki}, reason: ReasonNoCredential},
		"nothing presented, nothing named": {reason: ReasonNoCredential},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := &recordingVerifier{}
			id, err := VerifyClaimed(context.Background(), v, tc.claimed, tc.p)
			if tc.wantName == "" {
				var ve *Error
				if err == nil || !errors.As(err, &ve) || ve.Reason != tc.reason || v.n != 0 {
					t.Fatalf("got %v, %v after %d calls; want a %s refusal and no call", id, err, v.n, tc.reason)
				}
				return
			}
			if err != nil || v.n != 1 || v.name != tc.wantName {
				t.Fatalf("verified %q (%d calls), %v; want %q", v.name, v.n, err, tc.wantName)
			}
			if len(v.p.Chain) != len(tc.p.Chain) || string(v.p.RawPublicKey) != string(tc.p.RawPublicKey) {
				t.Errorf("presented %+v, want %+v", v.p, tc.p)
			}
		})
	}
}
