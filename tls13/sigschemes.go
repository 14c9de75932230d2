package tls13

import (
	"fmt"

	"github.com/dnsbound/dance/tls13/internal/sigalg"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// SignatureScheme is a TLS signature scheme (RFC 8446 §4.2.3), as
// offered in signature_algorithms and used in CertificateVerify.
type SignatureScheme uint16

// The signature schemes the engine signs and verifies CertificateVerify
// with (RFC 8446 §4.2.3). rsa_pkcs1_* schemes are allowed in certificates
// only, so they are not among them.
const (
	ECDSAWithP256AndSHA256 SignatureScheme = 0x0403 // ecdsa_secp256r1_sha256
	ECDSAWithP384AndSHA384 SignatureScheme = 0x0503 // ecdsa_secp384r1_sha384
	Ed25519                SignatureScheme = 0x0807 // ed25519
	PSSWithSHA256          SignatureScheme = 0x0804 // rsa_pss_rsae_sha256
	PSSWithSHA384          SignatureScheme = 0x0805 // rsa_pss_rsae_sha384
	PSSWithSHA512          SignatureScheme = 0x0806 // rsa_pss_rsae_sha512
)

// checkSchemes refuses a list (named field in the error) with a scheme
// outside the engine's scope or one listed twice.
func checkSchemes(field string, list []SignatureScheme) error {
	seen := map[SignatureScheme]bool{}
	for _, s := range list {
		if !sigalg.Supported(uint16(s)) {
			return fmt.Errorf("tls13: %s: signature scheme %#04x is not implemented", field, uint16(s))
		}
		if seen[s] {
			return fmt.Errorf("tls13: %s: signature scheme %#04x twice", field, uint16(s))
		}
		seen[s] = true
	}
	return nil
}

// verifySchemes returns the schemes this side offers in
// signature_algorithms and accepts in the peer's CertificateVerify, and
// the extension that offers them.
func (c *Config) verifySchemes() ([]uint16, wire.Extension, error) {
	if len(c.SignatureSchemes) == 0 {
		return sigalg.Schemes(), staticExts.sigAlgs, nil
	}
	if err := checkSchemes("Config.SignatureSchemes", c.SignatureSchemes); err != nil {
		return nil, wire.Extension{}, err
	}
	out := make([]uint16, len(c.SignatureSchemes))
	for i, s := range c.SignatureSchemes {
		out[i] = uint16(s)
	}
	return out, wire.NewSignatureAlgorithmsExtension(out, false), nil
}

// checkCertificateSchemes refuses Certificates whose SignatureSchemes
// hold a scheme the engine cannot sign with.
func (c *Config) checkCertificateSchemes() error {
	for i := range c.Certificates {
		if err := checkSchemes(fmt.Sprintf("Config.Certificates[%d].SignatureSchemes", i), c.Certificates[i].SignatureSchemes); err != nil {
			return err
		}
	}
	return nil
}

// signingScheme picks the scheme cert signs with for a peer that accepts
// peer (its signature_algorithms, in its order of preference): with
// cert.SignatureSchemes, the first of them the peer accepts and the key
// fits; without, the first of the peer's the key fits. ok is false when
// there is none.
func signingScheme(cert *Certificate, peer []uint16) (scheme uint16, ok bool) {
	pub := cert.PrivateKey.Public()
	if len(cert.SignatureSchemes) == 0 {
		for _, s := range peer {
			if sigalg.Fits(s, pub) {
				return s, true
			}
		}
		return 0, false
	}
	for _, s := range cert.SignatureSchemes {
		for _, p := range peer {
			if p == uint16(s) && sigalg.Fits(p, pub) {
				return p, true
			}
		}
	}
	return 0, false
}
