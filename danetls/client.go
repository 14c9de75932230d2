package danetls

import (
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dnsbound/dance/identity"
)

// Files of an identity directory, as "dance id new" writes them.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// ErrNoIdentity is wrapped by LoadIdentity's error when DIR holds no
// certificate.
var ErrNoIdentity = errors.New("no identity")

// LoadIdentity reads an identity directory: DIR/cert.pem (the certificate,
// possibly followed by its CA's, leaf first) and DIR/key.pem (its private
// key). The key must be the certificate's.
func LoadIdentity(dir string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("%s: %w: no %s", dir, ErrNoIdentity, CertFile)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	chain, err := identity.ParseCertificates(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", filepath.Join(dir, CertFile), err)
	}
	key, err := identity.ParsePrivateKey(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", filepath.Join(dir, KeyFile), err)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	if !publicKeysEqual(chain[0].PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("%s: the key in %s is not the certificate's", dir, KeyFile)
	}
	return c, nil
}

func publicKeysEqual(a, b any) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

// ClientConfig returns a copy of base (nil means the defaults: the server
// verified against the system roots) that presents cert when the server
// asks for a client certificate. TLS 1.2 is the minimum version.
func ClientConfig(base *tls.Config, cert tls.Certificate) *tls.Config {
	cfg := cloneConfig(base)
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.Certificates = []tls.Certificate{cert}
	return cfg
}

// cloneConfig returns a copy of base, or an empty configuration for nil.
func cloneConfig(base *tls.Config) *tls.Config {
	if base == nil {
		return &tls.Config{}
	}
	return base.Clone()
}
