package testident

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
)

// Names of the files Write creates, as "dance id new" writes them.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// Cred is a key and its certificate.
type Cred struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// SPKI is the DER SubjectPublicKeyInfo of the certificate.
func (c Cred) SPKI() []byte { return c.Cert.RawSubjectPublicKeyInfo }

// Key generates a key of type kt.
func Key(t testing.TB, kt identity.KeyType) crypto.Signer {
	t.Helper()
	k, err := identity.GenerateKey(kt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// SelfSigned makes a device, service or host identity with its own key of
// type kt.
func SelfSigned(t testing.TB, name string, kt identity.KeyType) Cred {
	t.Helper()
	k := Key(t, kt)
	c, err := identity.SelfSigned(identity.MustParseName(name), k, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Cred{Key: k, Cert: c}
}

// NewCA makes a CA of the given kind for domain, with an ECDSA P-256 key.
func NewCA(t testing.TB, kind identity.CAKind, domain string, o identity.Options) identity.Issuer {
	t.Helper()
	k := Key(t, identity.KeyECDSAP256)
	c, err := identity.NewCA(kind, identity.MustParseName(domain), k, o)
	if err != nil {
		t.Fatal(err)
	}
	return identity.Issuer{Cert: c, Key: k}
}

// IssueDevice issues a device certificate for name, with a new ECDSA P-256
// key, from ca.
func IssueDevice(t testing.TB, name string, ca identity.Issuer, o identity.Options) Cred {
	t.Helper()
	k := Key(t, identity.KeyECDSAP256)
	c, err := identity.IssueDevice(identity.MustParseName(name), k.Public(), ca, o)
	if err != nil {
		t.Fatal(err)
	}
	return Cred{Key: k, Cert: c}
}

// IssueUser issues a user certificate for uid at domain, with a new ECDSA
// P-256 key, from ca.
func IssueUser(t testing.TB, uid, domain string, ca identity.Issuer) Cred {
	t.Helper()
	k := Key(t, identity.KeyECDSAP256)
	c, err := identity.IssueUser(identity.User{UID: uid, Domain: identity.MustParseName(domain)}, k.Public(), ca, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Cred{Key: k, Cert: c}
}

// Write writes key and chain to a new temporary directory as CertFile and
// KeyFile and returns the directory.
func Write(t testing.TB, key crypto.Signer, chain ...*x509.Certificate) string {
	t.Helper()
	dir := t.TempDir()
	var pemCerts []byte
	for _, c := range chain {
		pemCerts = append(pemCerts, identity.MarshalCertificate(c)...)
	}
	k, err := identity.MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), pemCerts, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), k, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// EELine is the DANE-EE SPKI SHA2-256 record of pub at owner.
func EELine(t testing.TB, owner string, pub crypto.PublicKey) string {
	t.Helper()
	r, err := tlsa.ForPublicKey(pub, tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// TALine is the DANE-TA Cert SHA2-256 record of a CA at owner.
func TALine(t testing.TB, owner string, ca *x509.Certificate) string {
	t.Helper()
	r, err := tlsa.ForCertificate(ca, tlsa.DANETA, tlsa.SelectorCert, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.ZoneLine(owner, 300)
}

// Resolver is the project's resolver anchored at the hierarchy's root. The
// hierarchy's trust anchors replace cfg.Anchors; when cfg names neither
// upstreams nor an exchange, the hierarchy's server is the upstream.
func Resolver(t testing.TB, h *dnstest.Hierarchy, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	a, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Anchors = a
	if cfg.Upstreams == nil && cfg.Exchange == nil {
		cfg.Upstreams = []string{h.Addr()}
	}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ServerCert makes a self-signed TLS server certificate for 127.0.0.1, ::1
// and localhost, and a pool holding it for the clients.
func ServerCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
