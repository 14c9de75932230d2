package verify

import (
	"context"
	"crypto/x509"
	"errors"
)

// CertificateVerifier is a Verifier that can also find the claimed name in
// a certificate itself, counting and logging the certificates it refuses
// for their names. *Core implements it.
type CertificateVerifier interface {
	Verifier
	VerifyCertificate(ctx context.Context, chain []*x509.Certificate) (*Identity, error)
}

var _ CertificateVerifier = (*Core)(nil)

// VerifyCertificate authenticates a chain with standard TLS, where the
// claimed name comes from the leaf (ClaimedName), then runs Verify.
func (c *Core) VerifyCertificate(ctx context.Context, chain []*x509.Certificate) (*Identity, error) {
	name, err := chainName(chain)
	if err != nil {
		c.record(ctx, name, nil, err, false)
		return nil, err
	}
	return c.Verify(ctx, name, Presented{Chain: chain})
}

// VerifyChain authenticates a chain presented in standard TLS with v: the
// claimed name is ClaimedName of the leaf. It uses v's VerifyCertificate
// when v has one.
func VerifyChain(ctx context.Context, v Verifier, chain []*x509.Certificate) (*Identity, error) {
	if cv, ok := v.(CertificateVerifier); ok {
		return cv.VerifyCertificate(ctx, chain)
	}
	name, err := chainName(chain)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, name, Presented{Chain: chain})
}

// chainName returns the name a chain's leaf claims (ClaimedName), and
// ReasonNoCredential for an empty chain.
func chainName(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", &Error{Reason: ReasonNoCredential}
	}
	return ClaimedName(chain[0])
}

// VerifyClaimed authenticates a TLS client by what its handshake carried:
// the name it claimed in the dane_clientid extension
// (draft-ietf-dance-tls-clientid-07; "" when it claimed none, or sent the
// extension empty to say its certificate names it) and its chain or raw
// public key. With a claimed name, Verify checks it (for usages PKIX-TA,
// PKIX-EE and DANE-TA the leaf must carry it as a dNSName, for DANE-EE
// nothing; draft-ietf-dance-client-auth-13 §5). Without one, the name comes
// from the leaf (VerifyChain). A raw public key needs a claimed name: it
// names no one (client-auth-13 §9), and only a DANE-EE SPKI record
// matches it.
func VerifyClaimed(ctx context.Context, v Verifier, claimed string, p Presented) (*Identity, error) {
	if claimed != "" {
		return v.Verify(ctx, claimed, p)
	}
	if len(p.Chain) == 0 && len(p.RawPublicKey) > 0 {
		return nil, &Error{Reason: ReasonNoCredential, Err: errors.New("a raw public key without a claimed name")}
	}
	return VerifyChain(ctx, v, p.Chain)
}
