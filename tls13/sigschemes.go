package tls13

import (
	"github.com/dnsbound/dance/tls13/internal/sigalg"
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
