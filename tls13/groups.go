package tls13

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"fmt"
	"io"
	"slices"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// CurveID names a key exchange group (RFC 8446 §4.2.7, NamedGroup).
type CurveID uint16

// Key exchange groups the engine implements.
const (
	// X25519MLKEM768 is the hybrid of ML-KEM-768 (FIPS 203) and X25519
	// (draft-ietf-tls-ecdhe-mlkem), codepoint 0x11EC.
	X25519MLKEM768 CurveID = CurveID(wire.GroupX25519MLKEM768)
	X25519         CurveID = CurveID(wire.GroupX25519)    // RFC 7748
	CurveP256      CurveID = CurveID(wire.GroupSecp256r1) // secp256r1, FIPS 186
	CurveP384      CurveID = CurveID(wire.GroupSecp384r1) // secp384r1, FIPS 186
)

// Sizes of the X25519MLKEM768 shares (draft-ietf-tls-ecdhe-mlkem §3): the
// client sends the ML-KEM-768 encapsulation key followed by its X25519
// public key; the server answers with the ML-KEM-768 ciphertext followed
// by its X25519 public key; the shared secret is the ML-KEM shared secret
// followed by the X25519 one. The ML-KEM part comes first everywhere.
const (
	x25519Len          = 32
	hybridClientLen    = mlkem.EncapsulationKeySize768 + x25519Len // 1216
	hybridServerLen    = mlkem.CiphertextSize768 + x25519Len       // 1120
	hybridSharedSecret = mlkem.SharedKeySize + x25519Len           // 64
)

// defaultCurves is the order used when Config.CurvePreferences is empty:
// the post-quantum hybrid first, then X25519, P-256 and P-384. A client
// sends shares for the hybrid and for X25519, so a server without the
// hybrid needs no HelloRetryRequest.
var defaultCurves = []CurveID{X25519MLKEM768, X25519, CurveP256, CurveP384}

// ecdh returns the elliptic curve of a classic group; nil for the hybrid
// and for groups not implemented.
func (c CurveID) ecdh() ecdh.Curve {
	switch c {
	case X25519:
		return ecdh.X25519()
	case CurveP256:
		return ecdh.P256()
	case CurveP384:
		return ecdh.P384()
	}
	return nil
}

// implemented reports whether the engine can use the group.
func (c CurveID) implemented() bool { return c == X25519MLKEM768 || c.ecdh() != nil }

func (c CurveID) String() string {
	switch c {
	case X25519MLKEM768:
		return "X25519MLKEM768"
	case X25519:
		return "X25519"
	case CurveP256:
		return "P-256"
	case CurveP384:
		return "P-384"
	}
	return fmt.Sprintf("group(%#04x)", uint16(c))
}

// groupKey is a client's private half of one key share.
type groupKey struct {
	group CurveID
	ec    *ecdh.PrivateKey // the curve's key; the X25519 half of the hybrid
	dk    *mlkem.DecapsulationKey768
}

// newGroupKey generates a client key share for g.
func newGroupKey(g CurveID, rand io.Reader) (*groupKey, error) {
	k := &groupKey{group: g}
	curve := g.ecdh()
	if g == X25519MLKEM768 {
		curve = ecdh.X25519()
		dk, err := mlkem.GenerateKey768()
		if err != nil {
			return nil, err
		}
		k.dk = dk
	}
	if curve == nil {
		return nil, fmt.Errorf("tls13: group %v is not implemented", g)
	}
	ec, err := curve.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	k.ec = ec
	return k, nil
}

// share returns the key_exchange value of the client's KeyShareEntry.
func (k *groupKey) share() []byte {
	if k.dk != nil {
		return slices.Concat(k.dk.EncapsulationKey().Bytes(), k.ec.PublicKey().Bytes())
	}
	return k.ec.PublicKey().Bytes()
}

// sharedSecret computes the shared secret from the server's key_exchange
// value. A malformed share is an illegal_parameter (RFC 8446 §4.2.8.1,
// draft-ietf-tls-ecdhe-mlkem §3: "MUST abort with an illegal_parameter").
func (k *groupKey) sharedSecret(server []byte) ([]byte, error) {
	if k.dk == nil {
		return ecdhSecret(k.ec, server)
	}
	if len(server) != hybridServerLen {
		return nil, alert.Errorf(alert.IllegalParameter, "X25519MLKEM768 server share of %d octets, want %d", len(server), hybridServerLen)
	}
	ss, err := k.dk.Decapsulate(server[:mlkem.CiphertextSize768])
	if err != nil {
		return nil, &alert.Error{Alert: alert.IllegalParameter, Reason: "ML-KEM ciphertext", Err: err}
	}
	xs, err := ecdhSecret(k.ec, server[mlkem.CiphertextSize768:])
	if err != nil {
		return nil, err
	}
	return append(ss, xs...), nil
}

func ecdhSecret(priv *ecdh.PrivateKey, peerShare []byte) ([]byte, error) {
	peer, err := priv.Curve().NewPublicKey(peerShare)
	if err != nil {
		return nil, &alert.Error{Alert: alert.IllegalParameter, Reason: "peer key share", Err: err}
	}
	s, err := priv.ECDH(peer)
	if err != nil {
		return nil, &alert.Error{Alert: alert.IllegalParameter, Reason: "peer key share", Err: err}
	}
	return s, nil
}

// serverKeyExchange answers a client's key_exchange value for group g: it
// returns the server's key_exchange value and the shared secret. For the
// hybrid the server encapsulates to the client's ML-KEM key and runs X25519
// against its X25519 share.
func serverKeyExchange(g CurveID, rand io.Reader, client []byte) (share, secret []byte, err error) {
	if g == X25519MLKEM768 {
		if len(client) != hybridClientLen {
			return nil, nil, alert.Errorf(alert.IllegalParameter, "X25519MLKEM768 client share of %d octets, want %d", len(client), hybridClientLen)
		}
		ek, err := mlkem.NewEncapsulationKey768(client[:mlkem.EncapsulationKeySize768])
		if err != nil {
			return nil, nil, &alert.Error{Alert: alert.IllegalParameter, Reason: "ML-KEM encapsulation key", Err: err}
		}
		x, err := ecdh.X25519().GenerateKey(rand)
		if err != nil {
			return nil, nil, err
		}
		xs, err := ecdhSecret(x, client[mlkem.EncapsulationKeySize768:])
		if err != nil {
			return nil, nil, err
		}
		ss, ct := ek.Encapsulate()
		return append(ct, x.PublicKey().Bytes()...), append(ss, xs...), nil
	}
	curve := g.ecdh()
	if curve == nil {
		return nil, nil, fmt.Errorf("tls13: group %v is not implemented", g)
	}
	key, err := curve.GenerateKey(rand)
	if err != nil {
		return nil, nil, err
	}
	secret, err = ecdhSecret(key, client)
	if err != nil {
		return nil, nil, err
	}
	return key.PublicKey().Bytes(), secret, nil
}

// firstShares returns the groups a first ClientHello sends shares for: the
// most preferred, and X25519 besides when the most preferred is the hybrid
// and X25519 is offered too (draft-ietf-tls-ecdhe-mlkem allows a client
// both, so a server without the hybrid needs no HelloRetryRequest).
func firstShares(curves []CurveID) []CurveID {
	if curves[0] == X25519MLKEM768 && slices.Contains(curves, X25519) {
		return []CurveID{X25519MLKEM768, X25519}
	}
	return curves[:1]
}

// keyFor returns our key share for g, nil when we sent none.
func (hs *clientHS) keyFor(g CurveID) *groupKey {
	for _, k := range hs.keys {
		if k.group == g {
			return k
		}
	}
	return nil
}
