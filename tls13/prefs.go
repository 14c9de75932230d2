package tls13

import (
	"fmt"
	"slices"

	"github.com/dnsbound/dance/tls13/internal/record"
	"github.com/dnsbound/dance/tls13/internal/wire"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The TLS 1.3 cipher suites the engine implements (RFC 8446 §B.4), for
// Config.CipherSuites.
const (
	TLS_AES_128_GCM_SHA256       uint16 = record.TLS_AES_128_GCM_SHA256
	TLS_AES_256_GCM_SHA384       uint16 = record.TLS_AES_256_GCM_SHA384
	TLS_CHACHA20_POLY1305_SHA256 uint16 = record.TLS_CHACHA20_POLY1305_SHA256
)

// maxCANamesLen bounds the certificate_authorities list a server sends:
// the list, the extension holding it and the CertificateRequest's other
// extensions share one uint16 length (RFC 8446 §4.3.2,
// Extension extensions<2..2^16-1>; §4.2.4), so half of it is kept for the
// names and the rest for signature_algorithms, dane_clientid and the
// headers.
const maxCANamesLen = 1 << 15

// cipherSuites returns the suites this side offers (a client) or accepts
// (a server), most preferred first: Config.CipherSuites (checked with the
// rest of the Config, configState) or def.
func (c *Config) cipherSuites(def []uint16) []uint16 {
	if len(c.CipherSuites) == 0 {
		return def
	}
	return c.CipherSuites
}

// keyShareGroups returns the groups a client sends key shares for in its
// first ClientHello: Config.KeyShares (checked against curves, the groups
// it offers) in the order of curves, as RFC 8446 §4.2.8 requires, or the
// default choice. An empty, non-nil KeyShares sends none.
func (c *Config) keyShareGroups(curves []CurveID) ([]CurveID, error) {
	if c.KeyShares == nil {
		return firstShares(curves), nil
	}
	for i, g := range c.KeyShares {
		if !slices.Contains(curves, g) {
			return nil, fmt.Errorf("tls13: Config.KeyShares: %v is not among the groups offered", g)
		}
		if slices.Contains(c.KeyShares[:i], g) {
			return nil, fmt.Errorf("tls13: Config.KeyShares: %v twice", g)
		}
	}
	out := make([]CurveID, 0, len(c.KeyShares))
	for _, g := range curves {
		if slices.Contains(c.KeyShares, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// clientCAExtension returns the certificate_authorities extension a
// server's CertificateRequest carries (RFC 8446 §4.2.4), made from
// Config.ClientCANames; ok is false when the list is empty, as an empty
// extension is a syntax error. Each name must be one DER SEQUENCE (an
// X.501 Name) and the list must fit the extension's uint16 length.
func (c *Config) clientCAExtension() (e wire.Extension, ok bool, err error) {
	if len(c.ClientCANames) == 0 {
		return wire.Extension{}, false, nil
	}
	total := 0
	for i, n := range c.ClientCANames {
		s := cryptobyte.String(n)
		var seq cryptobyte.String
		if len(n) == 0 || !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
			return wire.Extension{}, false, fmt.Errorf("tls13: Config.ClientCANames[%d] is not a DER distinguished name", i)
		}
		total += 2 + len(n)
	}
	if total > maxCANamesLen {
		return wire.Extension{}, false, fmt.Errorf("tls13: Config.ClientCANames: %d octets, more than certificate_authorities holds (%d)", total, maxCANamesLen)
	}
	return wire.NewCertificateAuthoritiesExtension(c.ClientCANames), true, nil
}

// offersHashOf reports whether the ClientHello offers a suite with the
// hash of suite, the only ones a PSK made under suite can be used with
// (RFC 8446 §4.2.11).
func (hs *clientHS) offersHashOf(suite uint16) bool {
	h := record.SuiteByID(suite).Hash
	for _, s := range hs.hello.CipherSuites {
		if record.SuiteByID(s).Hash == h {
			return true
		}
	}
	return false
}
