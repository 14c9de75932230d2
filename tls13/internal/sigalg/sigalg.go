// Package sigalg signs and verifies CertificateVerify messages (RFC 8446
// §4.4.3) with the signature schemes in scope: ecdsa_secp256r1_sha256,
// ecdsa_secp384r1_sha384, ed25519 and rsa_pss_rsae_sha256/384/512.
// rsa_pkcs1_* schemes are refused here: TLS 1.3 allows them in certificates
// only (RFC 8446 §4.2.3), which is X.509's business, not this package's.
package sigalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// Contexts of the signed content (RFC 8446 §4.4.3).
const (
	ServerContext = "TLS 1.3, server CertificateVerify"
	ClientContext = "TLS 1.3, client CertificateVerify"
)

// SignedContent returns what a CertificateVerify signs: 64 octets of 0x20,
// the context string, a zero octet, and the transcript hash up to the
// Certificate message (RFC 8446 §4.4.3).
func SignedContent(context string, transcriptHash []byte) []byte {
	out := make([]byte, 0, 64+len(context)+1+len(transcriptHash))
	for i := 0; i < 64; i++ {
		out = append(out, 0x20)
	}
	out = append(out, context...)
	out = append(out, 0)
	return append(out, transcriptHash...)
}

type scheme struct {
	hash  crypto.Hash // 0 for Ed25519, which hashes itself
	curve elliptic.Curve
	kind  keyKind
}

type keyKind int

const (
	kindECDSA keyKind = iota + 1
	kindEd25519
	kindRSAPSS
)

var schemes = map[uint16]scheme{
	wire.SigECDSASecp256r1SHA256: {crypto.SHA256, elliptic.P256(), kindECDSA},
	wire.SigECDSASecp384r1SHA384: {crypto.SHA384, elliptic.P384(), kindECDSA},
	wire.SigEd25519:              {0, nil, kindEd25519},
	wire.SigRSAPSSRSAESHA256:     {crypto.SHA256, nil, kindRSAPSS},
	wire.SigRSAPSSRSAESHA384:     {crypto.SHA384, nil, kindRSAPSS},
	wire.SigRSAPSSRSAESHA512:     {crypto.SHA512, nil, kindRSAPSS},
}

// Supported reports whether sig is a CertificateVerify scheme in scope.
func Supported(sig uint16) bool {
	_, ok := schemes[sig]
	return ok
}

// Schemes returns the schemes in scope, in our order of preference.
func Schemes() []uint16 {
	return []uint16{wire.SigEd25519, wire.SigECDSASecp256r1SHA256, wire.SigECDSASecp384r1SHA384,
		wire.SigRSAPSSRSAESHA256, wire.SigRSAPSSRSAESHA384, wire.SigRSAPSSRSAESHA512}
}

// Fits reports whether the public key pub can verify signatures of scheme
// sig: the key type matches; for ECDSA, the curve is the scheme's; for
// RSA-PSS, the modulus is large enough for the encoding (RFC 8017 §9.1.1:
// emLen >= hLen + sLen + 2, with the salt as long as the hash, RFC 8446
// §4.2.3), which rsa_pss_rsae_sha512 with a 1024-bit key is not.
func Fits(sig uint16, pub crypto.PublicKey) bool {
	s, ok := schemes[sig]
	if !ok {
		return false
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return s.kind == kindECDSA && k.Curve == s.curve
	case ed25519.PublicKey:
		return s.kind == kindEd25519
	case *rsa.PublicKey:
		emLen := (k.N.BitLen() - 1 + 7) / 8
		return s.kind == kindRSAPSS && emLen >= 2*s.hash.Size()+2
	}
	return false
}

func digest(h crypto.Hash, content []byte) []byte {
	d := h.New()
	d.Write(content)
	return d.Sum(nil)
}

// Sign signs the CertificateVerify content for context and transcriptHash
// with key under scheme sig. rnd is the randomness for ECDSA and PSS
// (crypto/rand when nil).
func Sign(rnd io.Reader, key crypto.Signer, sig uint16, context string, transcriptHash []byte) ([]byte, error) {
	s, ok := schemes[sig]
	if !ok || !Fits(sig, key.Public()) {
		return nil, fmt.Errorf("sigalg: key %T cannot sign with scheme %#04x", key.Public(), sig)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	content := SignedContent(context, transcriptHash)
	switch s.kind {
	case kindEd25519:
		return key.Sign(rnd, content, crypto.Hash(0))
	case kindRSAPSS:
		// RFC 8446 §4.2.3: the salt is as long as the digest.
		return key.Sign(rnd, digest(s.hash, content), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash})
	default:
		return key.Sign(rnd, digest(s.hash, content), s.hash)
	}
}

// Verify checks a peer's CertificateVerify. offered is the list of schemes
// we offered (our signature_algorithms): a scheme outside it or a key that
// does not fit the scheme is an illegal_parameter; a signature that does not
// verify is a decrypt_error (RFC 8446 §4.4.3).
func Verify(pub crypto.PublicKey, sig uint16, offered []uint16, context string, transcriptHash, signature []byte) error {
	offeredIt := false
	for _, o := range offered {
		offeredIt = offeredIt || o == sig
	}
	s, ok := schemes[sig]
	if !offeredIt || !ok {
		return alert.Errorf(alert.IllegalParameter, "CertificateVerify with scheme %#04x we did not offer", sig)
	}
	if !Fits(sig, pub) {
		return alert.Errorf(alert.IllegalParameter, "CertificateVerify scheme %#04x does not fit a %T key", sig, pub)
	}
	content := SignedContent(context, transcriptHash)
	valid := false
	switch s.kind {
	case kindEd25519:
		valid = ed25519.Verify(pub.(ed25519.PublicKey), content, signature)
	case kindECDSA:
		valid = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest(s.hash, content), signature)
	case kindRSAPSS:
		valid = rsa.VerifyPSS(pub.(*rsa.PublicKey), s.hash, digest(s.hash, content), signature,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash}) == nil
	}
	if !valid {
		return alert.Errorf(alert.DecryptError, "CertificateVerify signature does not verify")
	}
	return nil
}
