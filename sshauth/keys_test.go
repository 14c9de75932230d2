package sshauth

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/tlsa"
)

func sshKey(t testing.TB, pub crypto.PublicKey) ssh.PublicKey {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) ssh.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey(t, &k.PublicKey)
}

func rsaKey(t testing.TB, bits int) ssh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey(t, &k.PublicKey)
}

func edKey(t testing.TB) (ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey(t, pub), priv
}

// TestSPKIRoundTrip: each supported key gives the SubjectPublicKeyInfo
// x509 gives, a 3 1 0 record holding it, and comes back unchanged.
func TestSPKIRoundTrip(t *testing.T) {
	ed, _ := edKey(t)
	for _, k := range []ssh.PublicKey{ed, ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384()), ecKey(t, elliptic.P521()), rsaKey(t, MinRSABits)} {
		t.Run(k.Type(), func(t *testing.T) {
			spki, err := SPKI(k)
			if err != nil {
				t.Fatal(err)
			}
			want, err := x509.MarshalPKIXPublicKey(k.(ssh.CryptoPublicKey).CryptoPublicKey())
			if err != nil || !bytes.Equal(spki, want) {
				t.Fatalf("SPKI differs from x509's (%v)", err)
			}
			recs, err := Records(k)
			if err != nil || len(recs) != 1 {
				t.Fatalf("Records: %v %v", recs, err)
			}
			r := recs[0]
			if r.Usage != tlsa.DANEEE || r.Selector != tlsa.SelectorSPKI || r.MatchingType != tlsa.MatchFull || !bytes.Equal(r.Data, spki) {
				t.Fatalf("record %s, want 3 1 0 of the SPKI", r)
			}
			back, err := FromSPKI(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Marshal(), k.Marshal()) {
				t.Fatalf("key changed on the way: %s", ssh.MarshalAuthorizedKey(back))
			}
		})
	}
}

// skKey is the wire form of a security key (FIDO) public key.
func skKey(t *testing.T, pub ed25519.PublicKey) ssh.PublicKey {
	t.Helper()
	wire := ssh.Marshal(struct {
		Name        string
		Key         []byte
		Application string
	}{ssh.KeyAlgoSKED25519, pub, "ssh:"})
	k, err := ssh.ParsePublicKey(wire)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestUnsupportedKeys: short RSA keys, security keys and certificates are
// refused on the way in (publish, offered key) and out (records).
func TestUnsupportedKeys(t *testing.T) {
	ed, priv := edKey(t)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: ed, CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  ssh.PublicKey
	}{
		{"rsa-1024", rsaKey(t, 1024)},
		{"security key", skKey(t, ed.(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey))},
		{"certificate", cert},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SPKI(tc.key); !errors.Is(err, ErrUnsupportedKey) {
				t.Errorf("SPKI: %v, want ErrUnsupportedKey", err)
			}
			if _, err := Records(tc.key); !errors.Is(err, ErrUnsupportedKey) {
				t.Errorf("Records: %v, want ErrUnsupportedKey", err)
			}
		})
	}
	// Keys a TLSA record can hold that SSH cannot use, or should not.
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"rsa-1024": &short.PublicKey, "x25519": x.PublicKey()} {
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := FromSPKI(spki); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("FromSPKI %s: %v %v, want ErrUnsupportedKey", name, k, err)
		}
	}
	if _, err := FromSPKI([]byte("not DER")); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("FromSPKI garbage: %v", err)
	}
}

func marshalPKIX(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }
