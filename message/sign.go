package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/veraison/go-cose"

	"github.com/dnsbound/dance/identity"
)

// idBytes is the size of a random message id.
const idBytes = 16

// Signer signs messages for a DNS-bound identity. Name and Key are
// required.
type Signer struct {
	// Name is the signer's DANCE owner name, where its TLSA records are
	// ("sensor1._device.example.com"); it goes into x5u and kid as a dns:
	// URI.
	Name string
	// Key signs; its type chooses the algorithm (AlgorithmFor).
	Key crypto.Signer
	// Chain, when not empty, is carried in the message (x5c, x5chain),
	// leaf first; its leaf must be Key's certificate. A signer whose
	// records are digests (3 1 1) or name a CA (2 x x) must carry it; one
	// whose record is 3 1 0 need not.
	Chain []*x509.Certificate
	// Lifetime, when positive, sets exp to iat plus Lifetime.
	Lifetime time.Duration
	// Time returns the current time; nil means time.Now.
	Time func() time.Time
	// Seq, when not nil, numbers the messages (a "seq" header parameter)
	// so that receivers can tell lost ones: see Sequence.
	Seq *Sequence
	// Rand is the source of message ids (and of signature randomness);
	// nil means crypto/rand.
	Rand io.Reader
}

// header is what a Signer puts in a protected header.
type header struct {
	alg      Algorithm
	uri      string
	chain    [][]byte
	iat, exp int64
	id       []byte
	// seq, when not empty, is the hdrSeq value.
	seq string
	// countersigns, when not empty, is the digest of the signature a
	// countersignature covers (hdrCountersigns).
	countersigns string
}

func (s *Signer) header() (*header, error) {
	if s.Key == nil {
		return nil, errors.New("message: Signer.Key is required")
	}
	n, err := identity.ParseName(s.Name)
	if err != nil {
		return nil, fmt.Errorf("message: signer name: %w", err)
	}
	alg, err := AlgorithmFor(s.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if len(s.Chain) > maxChain {
		return nil, fmt.Errorf("message: chain of %d certificates, at most %d", len(s.Chain), maxChain)
	}
	h := &header{alg: alg, uri: URI(n)}
	if len(s.Chain) > 0 {
		leaf, ok := s.Chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !leaf.Equal(s.Key.Public()) {
			return nil, errors.New("message: the chain's leaf is not the key's certificate")
		}
		for _, c := range s.Chain {
			h.chain = append(h.chain, c.Raw)
		}
	}
	now := time.Now
	if s.Time != nil {
		now = s.Time
	}
	t := now()
	h.iat = t.Unix()
	if s.Lifetime > 0 {
		h.exp = t.Add(s.Lifetime).Unix()
	}
	if s.Seq != nil {
		h.seq = s.Seq.take()
	}
	h.id = make([]byte, idBytes)
	if _, err := io.ReadFull(s.rand(), h.id); err != nil {
		return nil, fmt.Errorf("message: id: %w", err)
	}
	return h, nil
}

func (s *Signer) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

// Sign signs payload in format f.
func (s *Signer) Sign(payload []byte, f Format) ([]byte, error) {
	h, err := s.header()
	if err != nil {
		return nil, err
	}
	switch f {
	case JWSCompact, JWSJSON:
		return s.signJWS(payload, f, h)
	case COSE:
		return s.signCOSE(payload, h)
	}
	return nil, fmt.Errorf("message: unknown format %v", f)
}

func (s *Signer) signJWS(payload []byte, f Format, h *header) ([]byte, error) {
	var key any
	switch k := s.Key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		key = k
	default:
		key = cryptosigner.Opaque(s.Key)
	}
	opts := &jose.SignerOptions{}
	opts.WithHeader(hdrX5U, h.uri).WithHeader(hdrKid, h.uri).WithHeader(hdrIat, h.iat).
		WithHeader(hdrJti, base64.RawURLEncoding.EncodeToString(h.id))
	if h.exp != 0 {
		opts.WithHeader(hdrExp, h.exp)
	}
	if h.countersigns != "" {
		opts.WithHeader(hdrCountersigns, h.countersigns)
	}
	if h.seq != "" {
		opts.WithHeader(hdrSeq, h.seq)
	}
	if len(h.chain) > 0 {
		var x5c []string
		for _, der := range h.chain {
			x5c = append(x5c, base64.StdEncoding.EncodeToString(der))
		}
		opts.WithHeader(hdrX5C, x5c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(h.alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if f == JWSJSON {
		return []byte(obj.FullSerialize()), nil
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return []byte(out), nil
}

func (s *Signer) signCOSE(payload []byte, h *header) ([]byte, error) {
	signer, prot, err := s.coseSigner(h)
	if err != nil {
		return nil, err
	}
	msg := cose.Sign1Message{Headers: cose.Headers{Protected: prot, Unprotected: cose.UnprotectedHeader{}}, Payload: payload}
	if err := msg.Sign(s.rand(), nil, signer); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	out, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return out, nil
}

// coseSigner is s's COSE signer for h's algorithm, and the protected
// header for h: what a COSE_Sign1 and a countersignature are signed with.
func (s *Signer) coseSigner(h *header) (cose.Signer, cose.ProtectedHeader, error) {
	alg, prot, err := coseProtected(h)
	if err != nil {
		return nil, nil, err
	}
	signer, err := cose.NewSigner(alg, s.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("message: %w", err)
	}
	return signer, prot, nil
}

// coseProtected is the COSE protected header for h, and its algorithm.
func coseProtected(h *header) (cose.Algorithm, cose.ProtectedHeader, error) {
	var alg cose.Algorithm
	for c, a := range coseAlgorithms {
		if a == h.alg {
			alg = c
		}
	}
	if alg == 0 {
		return 0, nil, fmt.Errorf("message: %s keys cannot sign COSE messages here (ES256 and EdDSA only)", h.alg)
	}
	claims := map[any]any{claimIat: h.iat, claimCti: h.id}
	if h.exp != 0 {
		claims[claimExp] = h.exp
	}
	prot := cose.ProtectedHeader{
		labelAlg:       alg,
		labelKid:       []byte(h.uri),
		labelX5U:       h.uri,
		labelCWTClaims: claims,
	}
	if h.seq != "" {
		prot[hdrSeq] = h.seq
	}
	switch len(h.chain) {
	case 0:
	case 1:
		prot[labelX5Chain] = h.chain[0] // RFC 9360 §2: one certificate as a bare bstr
	default:
		var certs []any
		for _, der := range h.chain {
			certs = append(certs, der)
		}
		prot[labelX5Chain] = certs
	}
	return alg, prot, nil
}
