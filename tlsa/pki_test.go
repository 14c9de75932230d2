package tlsa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// testNow is the clock of every test: certificates are valid around it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var serial atomic.Int64

// certSpec describes one test certificate.
type certSpec struct {
	cn        string
	dns       []string
	ca        bool
	key       crypto.Signer // nil: a fresh P-256 key
	notBefore time.Time     // zero: testNow - 1h
	notAfter  time.Time     // zero: testNow + 24h
	eku       []x509.ExtKeyUsage
	noEKU     bool
	permitted []string // name constraints (CA only)
	maxPath   int      // path length constraint when > 0
	zeroPath  bool     // pathLenConstraint 0: may issue only leaves
}

type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// issue makes a certificate from spec, signed by parent (self-signed when
// parent is nil).
func issue(t testing.TB, spec certSpec, parent *testCert) *testCert {
	t.Helper()
	key := spec.key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	nb, na := spec.notBefore, spec.notAfter
	if nb.IsZero() {
		nb = testNow.Add(-time.Hour)
	}
	if na.IsZero() {
		na = testNow.Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: spec.cn},
		DNSNames:              spec.dns,
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		IsCA:                  spec.ca,
	}
	if spec.ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.PermittedDNSDomains = spec.permitted
		if spec.maxPath > 0 {
			tmpl.MaxPathLen = spec.maxPath
		}
		tmpl.MaxPathLenZero = spec.zeroPath
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if !spec.noEKU {
			tmpl.ExtKeyUsage = spec.eku
			if tmpl.ExtKeyUsage == nil {
				tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			}
		}
	}
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	signer, issuerCert := key, tmpl
	if parent != nil {
		signer, issuerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), signer)
	if err != nil {
		t.Fatalf("create %s: %v", spec.cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

// testPKI is a small hierarchy: root ← intermediate ← leaf, plus a leaf
// directly under the root.
type testPKI struct {
	root, inter, leaf, leaf1 *testCert
}

const leafName = "dev1._device.example.com"

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	root := issue(t, certSpec{cn: "Example Root", ca: true}, nil)
	inter := issue(t, certSpec{cn: "Example Devices CA", ca: true}, root)
	leaf := issue(t, certSpec{cn: "dev1", dns: []string{leafName}}, inter)
	leaf1 := issue(t, certSpec{cn: "dev2", dns: []string{"dev2._device.example.com"}}, root)
	return &testPKI{root: root, inter: inter, leaf: leaf, leaf1: leaf1}
}

func mustRecord(t testing.TB, c *x509.Certificate, u Usage, s Selector, m MatchingType) Record {
	t.Helper()
	r, err := ForCertificate(c, u, s, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writePEM writes certificates to a file in dir and returns its path.
func writePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	switch kind {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case "rsa2048":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case "p384":
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func x509MarshalPKIX(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }
